import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { repoRoot } from '../../test/cli-process.js'
import { type MeshFixture, startMeshFixture } from '../../test/mesh-fixture.js'

describe('examples/library/embed-a-peer.ts', () => {
  let mesh: MeshFixture | undefined
  afterEach(async () => {
    await mesh?.stop()
  })

  it('joins the federation as vps-public and streams an answer for weather-brief', async () => {
    mesh = await startMeshFixture({
      only: ['home', 'vps-fast'],
      scripts: { fast: { tokens: ['Rain', ' later'] } },
    })
    const manifestFile = join(mesh.dir, 'clawmesh.yaml')
    await writeFile(manifestFile, stringify(mesh.manifest))
    const child = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href,
        join(repoRoot, 'examples/library/embed-a-peer.ts'),
        manifestFile,
        'vps-public',
        'weather-brief',
        'Weather?',
      ],
      { cwd: mesh.dir, env: { ...process.env, CLAWMESH_LOG: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(stderr.slice(0, 3000)).toBe('')
    expect(code).toBe(0)
    expect(stdout.trim()).toBe('Rain later')
  })
})
