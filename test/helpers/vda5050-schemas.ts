// The official VDA 5050 JSON schemas, read from outside the repository (the project does not
// copy them): `../shared/vda5050/` next to the repository root, or the folder named by
// PHYGATE_VDA5050_SCHEMAS. Where the folder is missing, `loadVda5050Schemas` says why and the
// tests that need it skip.
//
// A few upstream files are not strict JSON (trailing commas before `]` or `}`): they are read
// leniently and named in `lenient`, so a test can say which vendored files are broken.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020Module, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv and ajv-formats are CommonJS; their class and plugin are also their `default` property.
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

export const SCHEMA_VERSIONS = ['2.0.0', '2.1.0'] as const;
export type SchemaVersion = (typeof SCHEMA_VERSIONS)[number];
export const SCHEMA_TOPICS = ['order', 'instantActions', 'state', 'visualization', 'connection', 'factsheet'] as const;
export type SchemaTopic = (typeof SCHEMA_TOPICS)[number];

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function schemaFolder(): string {
  return resolve(process.env.PHYGATE_VDA5050_SCHEMAS ?? join(REPO_ROOT, '..', 'shared', 'vda5050'));
}

export interface Vda5050Schemas {
  folder: string;
  /** `version/topic.schema` files that needed lenient parsing (upstream defects). */
  lenient: string[];
  /** Problems of one message, each naming the topic, the schema path and where in the message; [] when valid. */
  check(version: SchemaVersion, topic: SchemaTopic, message: unknown): string[];
}

/** The schemas, or the reason they cannot be used (for `{ skip: reason }`). */
export function loadVda5050Schemas(): Vda5050Schemas | { missing: string } {
  const folder = schemaFolder();
  if (!existsSync(folder)) {
    return { missing: `the VDA 5050 schemas are not at ${folder} (set PHYGATE_VDA5050_SCHEMAS to their folder)` };
  }
  const lenient: string[] = [];
  const validators = new Map<string, ValidateFunction>();
  for (const version of SCHEMA_VERSIONS) {
    // One validator instance per version: both versions use the same `$id`s.
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    for (const topic of SCHEMA_TOPICS) {
      const file = join(folder, version, `${topic}.schema`);
      if (!existsSync(file)) return { missing: `${file} is missing` };
      const text = readFileSync(file, 'utf8');
      let schema: object;
      try {
        schema = JSON.parse(text) as object;
      } catch {
        schema = JSON.parse(text.replace(/,(\s*[\]}])/g, '$1')) as object;
        lenient.push(`${version}/${topic}.schema`);
      }
      validators.set(`${version}/${topic}`, ajv.compile(schema));
    }
  }
  return {
    folder,
    lenient,
    check(version, topic, message) {
      const validate = validators.get(`${version}/${topic}`)!;
      if (validate(message)) return [];
      return (validate.errors ?? []).map((e: ErrorObject) => `${version}/${topic}.schema ${e.schemaPath}: ${e.instancePath || '(message)'} ${e.message ?? ''}`.trim());
    },
  };
}
