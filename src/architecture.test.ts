/**
 * The direction of imports between rooms (docs/architecture.md): a room
 * imports only rooms below it, so there is no upward import and no cycle.
 * Every non-test source file under src/ is read; each relative import is
 * mapped to its room and checked against the order.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const srcRoot = dirname(fileURLToPath(import.meta.url))

/** The rooms, lowest first. A room may import itself and any room before it. */
const ROOM_ORDER = [
  'errors',
  'log',
  'identity',
  'config',
  'net',
  'llm',
  'discovery',
  'health',
  'routing',
  'control',
  'api',
  'peer',
  'cli',
  'index',
] as const

/** The room of a path relative to src/ (`peer.ts` and `peer/` are one room). */
function roomOf(path: string): string {
  const [first = '', ...rest] = path.split('/')
  return rest.length === 0 ? first.replace(/\.(ts|js)$/, '') : first
}

/** Relative import specifiers of a source text (static, dynamic and re-exports). */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm)].map(
    (match) => match[1] ?? '',
  )
}

/** Upward imports: `[file, import, from-room, to-room]`, for files given as `[path relative to src, text]`. */
function upwardImports(files: ReadonlyArray<readonly [string, string]>): string[][] {
  const rank = new Map<string, number>(ROOM_ORDER.map((room, index) => [room, index]))
  const found: string[][] = []
  for (const [path, text] of files) {
    const from = roomOf(path)
    for (const specifier of importsOf(text)) {
      const target = normalize(join(dirname(path), specifier))
      const to = roomOf(target)
      if (from === to) continue
      const fromRank = rank.get(from)
      const toRank = rank.get(to)
      if (fromRank === undefined || toRank === undefined || toRank > fromRank) {
        found.push([path, specifier, from, to])
      }
    }
  }
  return found
}

function sourceFiles(directory: string): Array<[string, string]> {
  const files: Array<[string, string]> = []
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name)
    if (entry.isDirectory()) {
      // Test fixtures (`testing/`) may reach across rooms, like tests do.
      if (entry.name !== 'testing') files.push(...sourceFiles(path))
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      files.push([relative(srcRoot, path), readFileSync(path, 'utf8')])
    }
  }
  return files
}

describe('the direction of imports between rooms', () => {
  it('no source file imports a room above its own, so rooms have no cycles', () => {
    const files = sourceFiles(srcRoot)
    expect(files.length).toBeGreaterThan(80)
    const rooms = new Set(files.map(([path]) => roomOf(path)))
    // Every room that exists is placed in the order (a new room must be placed on purpose).
    expect([...rooms].filter((room) => !(ROOM_ORDER as readonly string[]).includes(room))).toEqual([])
    expect(upwardImports(files).map((entry) => entry.join(' '))).toEqual([])
  })

  it('flags an upward import and an unplaced room (the check can fail)', () => {
    expect(
      upwardImports([
        ['control/status-protocol.ts', "import { StatusView } from '../api/status-view.js'"],
        ['config/load.ts', "export { sign } from '../identity/federation-key.js'"],
        ['config/x.ts', "const m = await import('../routing/mesh.js')"],
        ['newroom/a.ts', "import { x } from '../config/index.js'"],
      ]),
    ).toEqual([
      ['control/status-protocol.ts', '../api/status-view.js', 'control', 'api'],
      ['config/x.ts', '../routing/mesh.js', 'config', 'routing'],
      ['newroom/a.ts', '../config/index.js', 'newroom', 'config'],
    ])
  })
})
