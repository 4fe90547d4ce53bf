// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are manifest text with literal ${VAR}
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ManifestError } from './errors.js'
import { loadManifest, parseManifest } from './load.js'

const peerA = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const peerB = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'

/** Parses `text` expecting a ManifestError, and returns it. */
function parseError(text: string, env: NodeJS.ProcessEnv = {}): ManifestError {
  try {
    parseManifest(text, 'clawmesh.yaml', { env })
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError)
    const manifestError = error as ManifestError
    expect(manifestError.name).toBe('ManifestError')
    expect(manifestError.code).toBe('MANIFEST_INVALID')
    return manifestError
  }
  throw new Error('expected parseManifest to throw')
}

describe('loadManifest', () => {
  let directory: string
  beforeAll(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'clawmesh-config-'))
  })
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true })
  })

  it('loads a manifest from a file with defaults filled in', async () => {
    const file = path.join(directory, 'ok.yaml')
    await writeFile(
      file,
      [
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: home.example.com:8082',
        '      trust: high',
        '',
      ].join('\n'),
    )
    const manifest = await loadManifest(file, { env: {} })
    expect(manifest.federation.nodes).toEqual([
      { name: 'home', address: 'home.example.com:8082', trust: 'high', souls: [], backends: [] },
    ])
  })

  it('names the path as passed and the line in errors from a file', async () => {
    const file = path.join(directory, 'bad-trust.yaml')
    await writeFile(
      file,
      [
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: home.example.com:8082',
        '      trust: total',
        '',
      ].join('\n'),
    )
    const error = await loadManifest(file, { env: {} }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ManifestError)
    expect((error as ManifestError).message).toBe(
      `${file}:5 federation.nodes[0].trust: expected low, medium or high`,
    )
    expect((error as ManifestError).file).toBe(file)
  })

  it('reports an unreadable file as a ManifestError without a line', async () => {
    const file = path.join(directory, 'missing.yaml')
    const error = await loadManifest(file).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ManifestError)
    expect((error as ManifestError).line).toBeUndefined()
    expect((error as ManifestError).message).toMatch(new RegExp(`^${file}: cannot read manifest: ENOENT`))
  })

  it('reads ${VAR} from process.env by default', async () => {
    const file = path.join(directory, 'env.yaml')
    await writeFile(
      file,
      [
        'federation:',
        '  secret: ${CLAWMESH_TEST_SECRET_7}',
        '  nodes:',
        '    - name: home',
        '      address: home.example.com:8082',
        '      trust: high',
      ].join('\n'),
    )
    process.env.CLAWMESH_TEST_SECRET_7 = 'from-process-env'
    try {
      const manifest = await loadManifest(file)
      expect(manifest.federation.secret).toBe('from-process-env')
    } finally {
      delete process.env.CLAWMESH_TEST_SECRET_7
    }
  })
})

describe('parseManifest errors', () => {
  it('bad YAML gives the YAML error line', () => {
    const error = parseError(
      ['federation:', '  nodes:', '    - name: home', '      address: [a', 'trust: high'].join('\n'),
    )
    expect(error.line).toBe(5)
    expect(error.field).toBe('')
    expect(error.message).toBe(
      'clawmesh.yaml:5: Flow sequence in block collection must be sufficiently indented and end with a ]',
    )
  })

  it('a duplicate YAML key is bad YAML at the second key', () => {
    const error = parseError(['federation:', '  nodes: []', '  nodes: []'].join('\n'))
    expect(error.message).toBe('clawmesh.yaml:3: Map keys must be unique')
  })

  it('a wrong type names the field and both kinds', () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: home.example.com:8082',
        '      trust: high',
        '      souls: inbox-triage',
      ].join('\n'),
    )
    expect(error.message).toBe('clawmesh.yaml:6 federation.nodes[0].souls: expected a list, got a string')
  })

  it('a bad trust level gives the exact enum message', () => {
    const error = parseError(
      [
        '# comment',
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: home.example.com:8082',
        '      trust: high',
        '    - name: vps',
        '      address: vps.example.com:8082',
        '      trust: extreme',
      ].join('\n'),
    )
    expect(error.message).toBe('clawmesh.yaml:9 federation.nodes[1].trust: expected low, medium or high')
    expect(error.line).toBe(9)
    expect(error.field).toBe('federation.nodes[1].trust')
    expect(error.issues).toHaveLength(1)
  })

  it('an unknown top-level key points at the key', () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: h:1',
        '      trust: high',
        'colour: blue',
      ].join('\n'),
    )
    expect(error.message).toBe('clawmesh.yaml:6 colour: unknown key')
  })

  it('an unknown key nested in a node points at the key', () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: h:1',
        '      trust: high',
        '      backends:',
        '        - name: local',
        '          modle: llama3',
        '      colour: blue',
      ].join('\n'),
    )
    expect(error.message).toBe(
      [
        'clawmesh.yaml:8 federation.nodes[0].backends[0].modle: unknown key',
        'clawmesh.yaml:9 federation.nodes[0].colour: unknown key',
      ].join('\n'),
    )
  })

  it('a missing key points at the parent object', () => {
    const error = parseError(['federation:', '  nodes:', '    - name: home', '      address: h:1'].join('\n'))
    expect(error.message).toBe('clawmesh.yaml:3 federation.nodes[0].trust: missing required field')
  })

  it('an empty document says what is missing at line 1', () => {
    expect(parseError('').message).toBe('clawmesh.yaml:1: expected a mapping, got null')
    expect(parseError('version: 1\n').message).toBe('clawmesh.yaml:1 federation: missing required field')
  })

  it('an unset ${VAR} names the variable, file, line and field', () => {
    const error = parseError(
      [
        'federation:',
        '  control_plane: home',
        '  nodes:',
        '    - name: home',
        '      address: h:1',
        '      trust: high',
        '  secret: ${CLAWMESH_SECRET}',
      ].join('\n'),
    )
    expect(error.message).toBe(
      'clawmesh.yaml:7 federation.secret: environment variable CLAWMESH_SECRET is not set',
    )
  })

  it('a duplicate node name is reported at the second name', () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: h:1',
        '      trust: high',
        '    - name: home',
        '      address: h:2',
        '      trust: low',
      ].join('\n'),
    )
    expect(error.message).toBe(
      'clawmesh.yaml:6 federation.nodes[1].name: duplicate node name home (also federation.nodes[0])',
    )
  })

  it('a soul on two nodes is reported at its second listing', () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: h:1',
        '      trust: high',
        '      souls: [inbox-triage]',
        '    - name: vps',
        '      address: v:1',
        '      trust: low',
        '      souls:',
        '        - weather',
        '        - inbox-triage',
      ].join('\n'),
    )
    expect(error.message).toBe(
      'clawmesh.yaml:12 federation.nodes[1].souls[1]: soul inbox-triage is already hosted by node home (souls do not migrate; list it on one node)',
    )
  })

  it('an unknown soul reference in souls: points at its key', () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: h:1',
        '      trust: high',
        '      souls: [inbox-triage]',
        'souls:',
        '  inbox-triage:',
        '    sensitivity: high',
        '  ghost:',
        '    sensitivity: low',
      ].join('\n'),
    )
    expect(error.message).toBe(
      'clawmesh.yaml:10 souls.ghost: unknown soul reference: no node hosts soul ghost',
    )
  })

  it("a soul's backend that no node offers is reported", () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: h:1',
        '      trust: high',
        '      souls: [inbox-triage]',
        '      backends: [{ name: local }]',
        'souls:',
        '  inbox-triage: { backend: cloud }',
      ].join('\n'),
    )
    expect(error.message).toBe(
      'clawmesh.yaml:9 souls.inbox-triage.backend: no node offers a backend named cloud',
    )
  })

  it('a control_plane that matches no node is reported', () => {
    const error = parseError(
      [
        'federation:',
        '  control_plane: elsewhere.example.com:8081',
        '  nodes:',
        '    - name: home',
        '      address: home.example.com:8082',
        '      trust: high',
      ].join('\n'),
    )
    expect(error.message).toBe(
      'clawmesh.yaml:2 federation.control_plane: elsewhere.example.com:8081 matches no node name, address or api',
    )
  })

  it('a bad peer_id and a duplicate peer_id are both reported', () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: a',
        '      address: h:1',
        '      trust: high',
        `      peer_id: ${peerA}`,
        '    - name: b',
        '      address: h:2',
        '      trust: high',
        '      peer_id: not-a-peer-id',
        '    - name: c',
        '      address: h:3',
        '      trust: high',
        `      peer_id: ${peerA}`,
        '    - name: d',
        '      address: h:4',
        '      trust: high',
        `      peer_id: ${peerB}`,
      ].join('\n'),
    )
    expect(error.message).toBe(
      [
        'clawmesh.yaml:10 federation.nodes[1].peer_id: "not-a-peer-id" is not a valid libp2p peer ID (expected a base58 ID such as 12D3KooW...)',
        `clawmesh.yaml:14 federation.nodes[2].peer_id: duplicate peer ID ${peerA} (also node a)`,
      ].join('\n'),
    )
  })

  it('a duplicate backend name within a node and a bad address are reported', () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: a',
        '      address: nowhere',
        '      trust: high',
        '      backends:',
        '        - name: local',
        '        - name: local',
        '          type: ollama',
      ].join('\n'),
    )
    expect(error.message).toBe(
      [
        'clawmesh.yaml:4 federation.nodes[0].address: invalid address "nowhere": expected host:port or a multiaddr',
        'clawmesh.yaml:8 federation.nodes[0].backends[1].name: duplicate backend name local on node a',
      ].join('\n'),
    )
  })

  it('reports every schema problem, first one first', () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: home',
        '      address: h:1',
        '      trust: top',
        '      extra: 1',
        '    - name: bad name!',
        '      address: h:2',
        '      trust: low',
        '  health:',
        '    heartbeat_interval_ms: -5',
        'unknown: true',
      ].join('\n'),
    )
    expect(error.issues.map((issue) => issue.line)).toEqual([5, 6, 7, 11, 12])
    expect(error.message).toBe(
      [
        'clawmesh.yaml:5 federation.nodes[0].trust: expected low, medium or high',
        'clawmesh.yaml:6 federation.nodes[0].extra: unknown key',
        'clawmesh.yaml:7 federation.nodes[1].name: expected a name of letters, digits, ".", "_" or "-" (max 63)',
        'clawmesh.yaml:11 federation.health.heartbeat_interval_ms: expected a positive number',
        'clawmesh.yaml:12 unknown: unknown key',
      ].join('\n'),
    )
    expect(error.line).toBe(5)
    expect(error.field).toBe('federation.nodes[0].trust')
  })

  it('reports every cross-field problem together', () => {
    const error = parseError(
      [
        'federation:',
        '  control_plane: nowhere',
        '  nodes:',
        '    - name: home',
        '      address: h:1',
        '      trust: high',
        '      souls: [a]',
        '    - name: home',
        '      address: h:2',
        '      trust: low',
        '      souls: [a]',
        'souls:',
        '  b: {}',
      ].join('\n'),
    )
    expect(error.message).toBe(
      [
        'clawmesh.yaml:2 federation.control_plane: nowhere matches no node name, address or api',
        'clawmesh.yaml:8 federation.nodes[1].name: duplicate node name home (also federation.nodes[0])',
        'clawmesh.yaml:11 federation.nodes[1].souls[0]: soul a is already hosted by node home (souls do not migrate; list it on one node)',
        'clawmesh.yaml:13 souls.b: unknown soul reference: no node hosts soul b',
      ].join('\n'),
    )
  })

  it('reports every unset variable', () => {
    const error = parseError(
      [
        'federation:',
        '  secret: ${A}',
        '  key: ${B}-${C}',
        '  nodes:',
        '    - { name: n, address: "h:1", trust: high }',
      ].join('\n'),
      { C: 'set' },
    )
    expect(error.message).toBe(
      [
        'clawmesh.yaml:2 federation.secret: environment variable A is not set',
        'clawmesh.yaml:3 federation.key: environment variable B is not set',
      ].join('\n'),
    )
  })
})

describe('parseManifest interpolation', () => {
  const base = (extra: string[]) =>
    [
      'federation:',
      '  nodes:',
      '    - name: home',
      '      address: ${HOST}:8082',
      '      trust: ${TRUST}',
      ...extra,
    ].join('\n')

  it('interpolates before validation, so types validate on the value', () => {
    const manifest = parseManifest(
      base([
        '      backends:',
        '        - name: cloud',
        '          type: openai-compatible',
        '          url: ${URL}',
        '          api_key: "${KEY}"',
        '          timeout_ms: ${TIMEOUT}',
      ]),
      'clawmesh.yaml',
      {
        env: {
          HOST: 'home.example.com',
          TRUST: 'medium',
          URL: 'https://api.example.com/v1',
          KEY: '123',
          TIMEOUT: '5000',
        },
      },
    )
    const node = manifest.federation.nodes[0]
    expect(node?.address).toBe('home.example.com:8082')
    expect(node?.trust).toBe('medium')
    expect(node?.backends[0]).toMatchObject({
      url: 'https://api.example.com/v1',
      api_key: '123',
      timeout_ms: 5000,
    })
  })

  it('validates the interpolated value and reports it at the line of the ${VAR}', () => {
    const error = parseError(base([]), { HOST: 'h', TRUST: 'ultra' })
    expect(error.message).toBe('clawmesh.yaml:5 federation.nodes[0].trust: expected low, medium or high')
  })

  it('$${ writes a literal ${', () => {
    const escaped = parseManifest(
      [
        'federation:',
        '  secret: $${NOT_A_VAR}',
        '  nodes:',
        '    - { name: n, address: "h:1", trust: high }',
      ].join('\n'),
      'f.yaml',
      { env: {} },
    )
    expect(escaped.federation.secret).toBe('${NOT_A_VAR}')
  })

  it('a quoted interpolation stays a string', () => {
    const error = parseError(
      [
        'federation:',
        '  nodes:',
        '    - name: n',
        '      address: "h:1"',
        '      trust: high',
        '      backends:',
        '        - name: b',
        '          timeout_ms: "${T}"',
      ].join('\n'),
      { T: '5000' },
    )
    expect(error.message).toBe(
      'clawmesh.yaml:8 federation.nodes[0].backends[0].timeout_ms: expected a number, got a string',
    )
  })
})
