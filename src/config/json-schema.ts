/**
 * The manifest's JSON Schema, generated from the zod schema so the two
 * cannot disagree. `npm run schema` writes it to `schema/manifest.schema.json`.
 */
import { z } from 'zod'
import { Manifest } from './schema.js'

/** Where the committed JSON Schema lives, relative to the repository root. */
export const MANIFEST_JSON_SCHEMA_PATH = 'schema/manifest.schema.json'

/** The JSON Schema of the manifest as written by users (input side: defaulted fields are optional). */
export function manifestJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(Manifest, { io: 'input' }),
    $id: 'https://github.com/clawmesh/clawmesh/schema/manifest.schema.json',
    title: 'clawmesh federation manifest',
  }
}

/** The exact text of the committed schema file: two-space JSON and a final newline. */
export function manifestJsonSchemaText(): string {
  return `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`
}
