/**
 * Writes the manifest's JSON Schema, generated from the zod schema, to
 * `schema/manifest.schema.json`. Run with `npm run schema`; commit the result
 * (a test fails when the committed file drifts from the schema).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MANIFEST_JSON_SCHEMA_PATH, manifestJsonSchemaText } from '../src/config/json-schema.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const target = path.join(repoRoot, MANIFEST_JSON_SCHEMA_PATH)
await mkdir(path.dirname(target), { recursive: true })
await writeFile(target, manifestJsonSchemaText())
