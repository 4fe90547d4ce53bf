/**
 * Generates docs/configuration.md, the manifest reference, from the zod schema
 * (through its JSON Schema, `src/config/json-schema.ts`): every field with its
 * type, default and the `.describe()` text from `src/config/schema.ts`. Run
 * with `npm run docs:config` and commit the result; a test fails when the
 * committed file drifts from the schema.
 */
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { manifestJsonSchema } from '../src/config/json-schema.js'

/** Where the generated reference lives, relative to the repository root. */
export const CONFIGURATION_DOC_PATH = 'docs/configuration.md'

/** The part of JSON Schema that `z.toJSONSchema` emits for the manifest. */
interface JsonSchema {
  type?: string
  description?: string
  default?: unknown
  enum?: unknown[]
  const?: unknown
  format?: string
  pattern?: string
  minLength?: number
  minimum?: number
  exclusiveMinimum?: number
  minItems?: number
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  propertyNames?: JsonSchema
  additionalProperties?: boolean | JsonSchema
  $ref?: string
  anyOf?: JsonSchema[]
}

/** One object of the manifest: where it sits, and its schema. */
interface Section {
  path: string
  schema: JsonSchema
}

const isObject = (schema: JsonSchema | undefined): boolean =>
  schema?.type === 'object' && schema.properties !== undefined

/** The value of a map (`souls:`), when the schema is one. */
function recordValue(schema: JsonSchema): JsonSchema | undefined {
  const value = schema.additionalProperties
  return schema.type === 'object' && schema.properties === undefined && typeof value === 'object'
    ? value
    : undefined
}

/** Every object section, depth first, in schema order. */
function sections(schema: JsonSchema, at: string, into: Section[] = []): Section[] {
  into.push({ path: at, schema })
  for (const [key, field] of Object.entries(schema.properties ?? {})) {
    const where = at === '' ? key : `${at}.${key}`
    if (isObject(field)) sections(field, where, into)
    else if (field.items && isObject(field.items)) sections(field.items, `${where}[]`, into)
    else {
      const value = recordValue(field)
      if (value && isObject(value)) sections(value, `${where}.<name>`, into)
    }
  }
  return into
}

const code = (text: string): string => `\`${text}\``

/** The field's type in words. */
function typeOf(schema: JsonSchema, where: string): string {
  if (schema.$ref !== undefined || schema.anyOf !== undefined) {
    throw new Error(`configuration-doc: ${where} uses $ref/anyOf, which this generator does not render`)
  }
  if (schema.enum) return schema.enum.map((value) => code(JSON.stringify(value))).join(' or ')
  if (schema.const !== undefined) return code(JSON.stringify(schema.const))
  switch (schema.type) {
    case 'string': {
      if (schema.format === 'uri') return 'URL'
      if (schema.pattern) return `name (${code(schema.pattern)})`
      return schema.minLength ? 'non-empty string' : 'string'
    }
    case 'integer':
      if (schema.exclusiveMinimum === 0) return 'positive integer'
      if (schema.minimum === 0) return 'non-negative integer'
      return 'integer'
    case 'number':
    case 'boolean':
      return schema.type
    case 'array': {
      const items = schema.items ?? {}
      const of = isObject(items) ? `objects (${code(`${where}[]`)})` : typeOf(items, `${where}[]`)
      return `list of ${of}${schema.minItems ? `, at least ${schema.minItems}` : ''}`
    }
    case 'object': {
      if (isObject(schema)) return `object (${code(where)})`
      const value = recordValue(schema)
      if (!value) return 'object'
      const key = schema.propertyNames ? typeOf(schema.propertyNames, `${where} key`) : 'string'
      const of = isObject(value) ? `object (${code(`${where}.<name>`)})` : typeOf(value, `${where}.<name>`)
      return `map of ${key} → ${of}`
    }
    default:
      throw new Error(`configuration-doc: ${where} has no type this generator renders`)
  }
}

/** Splits "… Default: X. …" out of a description. */
function splitDefault(description: string): { text: string; fallback: string | undefined } {
  const match = /(?:^|\s)Default: (.+?)\.(?=\s|$)/.exec(description)
  if (!match) return { text: description, fallback: undefined }
  const text = `${description.slice(0, match.index)}${description.slice(match.index + match[0].length)}`
  return { text: text.trim(), fallback: match[1] }
}

/** A table cell: one line, pipes escaped. */
const cell = (text: string): string => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|')

function table(section: Section): string {
  const required = new Set(section.schema.required ?? [])
  const rows = Object.entries(section.schema.properties ?? {}).map(([key, field]) => {
    const where = section.path === '' ? key : `${section.path}.${key}`
    const { text, fallback } = splitDefault(field.description ?? '')
    let fieldDefault: string
    if (field.default !== undefined) fieldDefault = code(JSON.stringify(field.default))
    else if (required.has(key)) fieldDefault = '**required**'
    else fieldDefault = fallback ?? 'unset'
    return [code(key), cell(typeOf(field, where)), cell(fieldDefault), cell(text)]
  })
  return aligned([['Field', 'Type', 'Default', 'Description'], ...rows])
}

/** A table with padded columns, as Biome formats Markdown (so `npm run lint` accepts the file). */
function aligned([header, ...rows]: string[][]): string {
  const widths = header!.map((_, column) =>
    Math.max(3, ...[header!, ...rows].map((row) => (row[column] ?? '').length)),
  )
  const line = (row: string[]) => `| ${row.map((text, column) => text.padEnd(widths[column]!)).join(' | ')} |`
  return [line(header!), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n')
}

/** The whole of docs/configuration.md, generated from the manifest schema. */
export function renderConfigurationDoc(): string {
  const root = manifestJsonSchema() as JsonSchema
  const parts = [
    '# Manifest reference',
    '',
    '<!-- Generated by `npm run docs:config` from src/config/schema.ts. Do not edit by hand. -->',
    '',
    'Every field of the federation manifest (`clawmesh.yaml`), generated from the zod schema in',
    '`src/config/schema.ts`: its descriptions are the `.describe()` texts there, and the defaults are',
    'the values in `src/config/defaults.ts` that `src/config/resolve.ts` applies. Unknown keys are errors',
    'everywhere. "unset" means the field has no default: leaving it out turns the feature off or lets',
    'the peer decide, as the description says. Editors can validate a manifest with the JSON Schema in',
    '`schema/manifest.schema.json`; `examples/` has manifests to start from.',
  ]
  for (const section of sections(root, '')) {
    const title = section.path === '' ? 'Top level' : code(section.path)
    parts.push('', `## ${title}`, '')
    if (section.path !== '' && section.schema.description) parts.push(section.schema.description, '')
    parts.push(table(section))
  }
  return `${parts.join('\n')}\n`
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Writes docs/configuration.md. */
export async function writeConfigurationDoc(): Promise<void> {
  await writeFile(path.join(repoRoot, CONFIGURATION_DOC_PATH), renderConfigurationDoc())
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeConfigurationDoc()
}
