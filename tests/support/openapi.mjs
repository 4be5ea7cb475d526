// Validates real responses against the repository's openapi.json, so that every response the
// end-to-end tests see proves the document true (Api.request calls `assertDescribed`).
//
// A response is described when:
//   - its path matches one of the document's path templates (a `{param}` matches one non-empty
//     segment) and its method is an operation there;
//   - its status is listed for that operation (exact code, then `4XX`-style ranges, then
//     `default`);
//   - every header the response object marks `required` is present, and every documented header
//     that is present matches its schema;
//   - it has a body exactly when the response object has `content`, with a Content-Type whose
//     media type is one of the content keys, and the body validates against that schema.
//
// Two kinds of response cannot be written as operations in OpenAPI, and the document describes
// them in `info.description` and as reusable responses instead:
//   - a path that matches no template (the tests hit unknown routes on purpose): it must be the
//     `NotFound` response (404, a not-found problem). We chose this over documenting a catch-all
//     path because OpenAPI has no wildcard path; a fake `/{anything}` template would also match
//     nothing with slashes and would make Schemathesis fuzz a route that does not exist;
//   - a documented path with a method it does not list: it must be the `MethodNotAllowed`
//     response (405, a problem) whose `Allow` header names exactly the path's documented methods.
//
// Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect), checked with Ajv. `$ref`s into
// `#/components/schemas` are rewritten to point into one registered schema that holds them all.

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { AssertionError } from 'node:assert';
import { readFileSync } from 'node:fs';
import { ROOT } from '../../scripts/lib/toolchain.mjs';

export const OPENAPI_PATH = `${ROOT}/openapi.json`;
/** The document, parsed. */
export const openapi = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const COMPONENTS_ID = 'https://edge-task-api.invalid/openapi.json';

/** Rewrites `#/components/schemas/X` refs to absolute ones into the registered components. */
function absoluteRefs(value) {
  if (Array.isArray(value)) return value.map(absoluteRefs);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => {
    if (key === '$ref' && typeof inner === 'string' && inner.startsWith('#/components/schemas/')) {
      return [key, `${COMPONENTS_ID}#/$defs/${inner.slice('#/components/schemas/'.length)}`];
    }
    return [key, absoluteRefs(inner)];
  }));
}

// Strict about unknown keywords; not about allOf branches that constrain or require properties
// declared in the branch they are combined with (strictTypes, strictRequired).
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
addFormats(ajv);
ajv.addSchema({ $id: COMPONENTS_ID, $defs: absoluteRefs(openapi.components.schemas) });
const compiled = new Map();
/** An Ajv validator for a schema from the document (its `#/components/schemas` refs resolve). */
export function schemaValidator(schema) {
  if (!compiled.has(schema)) compiled.set(schema, ajv.compile(absoluteRefs(schema)));
  return compiled.get(schema);
}

/** What a local `$ref` (`#/components/...`) points to in the document, or undefined. */
export const resolveRef = (ref) => ref.replace(/^#\//, '').split('/').reduce((node, key) => node?.[key], openapi);

/** Follows a local `$ref` in the document, and the target's own, to an object without one. */
export function deref(object) {
  if (!object?.$ref) return object;
  const target = resolveRef(object.$ref);
  if (!target) throw new Error(`openapi.json: unresolvable $ref ${object.$ref}`);
  return deref(target);
}

/** The template and path item matching a concrete path, or undefined. */
export function matchPath(path) {
  const segments = path.split('/');
  for (const [template, item] of Object.entries(openapi.paths)) {
    const parts = template.split('/');
    if (parts.length !== segments.length) continue;
    const matches = parts.every((part, index) =>
      /^\{[^}]+\}$/.test(part) ? segments[index] !== '' : part === segments[index]);
    if (matches) return { template, item };
  }
  return undefined;
}

const documentedMethods = (item) => METHODS.filter((method) => item[method]);

/** The response object an operation documents for a status, or undefined. */
function documentedResponse(operation, status) {
  const responses = operation.responses;
  return responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
}

/**
 * Everything wrong with a response as the document sees it; an empty list when it is described.
 * `response` is { status, headers (a fetch Headers), text }.
 */
export function problemsWith(method, path, response) {
  const pathOnly = path.split(/[?#]/)[0];
  const match = matchPath(pathOnly);
  let expected;
  let label;
  const problems = [];
  if (!match) {
    label = `${method} ${pathOnly} (no documented path)`;
    if (response.status !== 404) return [`${label}: answered ${response.status}; an undocumented path must be 404`];
    expected = deref(openapi.components.responses.NotFound);
  } else {
    const operation = deref(match.item[method.toLowerCase()]);
    label = `${method} ${match.template}`;
    if (!operation) {
      label = `${method} ${match.template} (undocumented method)`;
      if (response.status !== 405) return [`${label}: answered ${response.status}; an undocumented method must be 405`];
      expected = deref(openapi.components.responses.MethodNotAllowed);
      const allowed = (response.headers.get('allow') ?? '').split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
      const documented = documentedMethods(match.item);
      if ([...allowed].sort().join() !== [...documented].sort().join()) {
        problems.push(`${label}: Allow is "${response.headers.get('allow')}", the document lists ${documented.join(', ').toUpperCase()}`);
      }
    } else {
      expected = deref(documentedResponse(operation, response.status));
      if (!expected) {
        const listed = Object.keys(operation.responses).join(', ');
        return [`${label}: status ${response.status} is not documented (documented: ${listed})`];
      }
    }
  }

  for (const [name, header] of Object.entries(expected.headers ?? {})) {
    const definition = deref(header);
    const value = response.headers.get(name);
    if (value === null) {
      if (definition.required) problems.push(`${label} ${response.status}: required header ${name} is missing`);
      continue;
    }
    const validate = schemaValidator(definition.schema ?? {});
    if (!validate(value)) problems.push(`${label} ${response.status}: header ${name}: "${value}" ${ajv.errorsText(validate.errors)}`);
  }

  const contentType = response.headers.get('content-type');
  if (!expected.content) {
    if (response.text !== '') problems.push(`${label} ${response.status}: documented without a body, got ${JSON.stringify(response.text.slice(0, 200))}`);
    return problems;
  }
  const mediaType = contentType?.split(';')[0].trim().toLowerCase();
  const media = expected.content[mediaType];
  if (!media) {
    problems.push(`${label} ${response.status}: Content-Type ${contentType} is not one of ${Object.keys(expected.content).join(', ')}`);
    return problems;
  }
  let body;
  try {
    body = JSON.parse(response.text);
  } catch {
    problems.push(`${label} ${response.status}: the body is not JSON: ${JSON.stringify(response.text.slice(0, 200))}`);
    return problems;
  }
  const validate = schemaValidator(media.schema ?? {});
  if (!validate(body)) {
    const errors = validate.errors.map((error) => `${error.instancePath || '/'} ${error.message}`).join('; ');
    problems.push(`${label} ${response.status}: the body does not match the schema: ${errors}\n${response.text.slice(0, 500)}`);
  }
  return problems;
}

/** Throws when openapi.json does not describe this response. */
export function assertDescribed(method, path, response) {
  const problems = problemsWith(method, path, response);
  if (problems.length > 0) {
    throw new AssertionError({ message: `openapi.json does not describe this response:\n- ${problems.join('\n- ')}` });
  }
}
