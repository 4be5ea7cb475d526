// Settings every end-to-end stack shares, in a module of their own so that the stack and the
// API client can both use them without importing each other.

/** The secret the test stacks verify tokens with. */
export const TEST_SECRET = 'e2e-test-secret-with-at-least-thirty-two-bytes';
/** The browser origin the test stacks allow. */
export const ALLOWED_ORIGIN = 'http://localhost:3000';
