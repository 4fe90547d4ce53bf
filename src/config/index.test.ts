import { describe, expect, it } from 'vitest'
import * as config from './index.js'

describe('config room exports', () => {
  it('exposes loading, resolution, errors and the schema', () => {
    for (const name of [
      'loadManifest',
      'parseManifest',
      'ManifestError',
      'UnknownNodeError',
      'findNode',
      'soulSensitivity',
      'backendMinTrust',
      'soulOwner',
      'controlPlaneNodeName',
      'nodeApiAddress',
      'healthSettings',
      'limitSettings',
      'routingSettings',
      'addressToMultiaddr',
      'standaloneManifest',
      'Manifest',
      'trustAtLeast',
      'trustLevels',
      'backendTypes',
      'DEFAULT_API_ADDRESS',
    ]) {
      expect(config, name).toHaveProperty(name)
    }
    expect(config.trustAtLeast('high', 'medium')).toBe(true)
    expect(config.trustAtLeast('low', 'medium')).toBe(false)
  })
})
