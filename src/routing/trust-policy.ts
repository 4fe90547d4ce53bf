/**
 * The two trust rules of DESIGN.md "Trust", as pure checks. Callers run both
 * before any byte of a request leaves; owners run both again on receipt.
 */
import { type TrustLevel, trustAtLeast } from '../config/schema.js'
import { TrustError } from './errors.js'

/** Input of the data rule. Names only feed the message. */
export interface SoulMayUseInput {
  soulSensitivity: TrustLevel
  ownerTrust: TrustLevel
  soul?: string
  owner?: string
}

/** Data rule: a soul's request goes only to an owner whose trust is >= the soul's sensitivity. Throws `TrustError` TRUST_SENSITIVITY. */
export function checkSoulMayUse(input: SoulMayUseInput): void {
  if (trustAtLeast(input.ownerTrust, input.soulSensitivity)) return
  const soul = input.soul === undefined ? 'the soul' : `soul "${input.soul}"`
  const owner = input.owner ?? 'the owner'
  throw new TrustError(
    'TRUST_SENSITIVITY',
    `${soul} (sensitivity ${input.soulSensitivity}) may not send to ${owner} (trust ${input.ownerTrust})`,
  )
}

/** Input of the resource rule. Names only feed the message. */
export interface CallerAllowedInput {
  callerTrust: TrustLevel
  backendMinTrust: TrustLevel
  caller?: string
  backend?: string
  owner?: string
}

/** Resource rule: an owner serves a backend only to callers whose trust is >= its `min_trust`. Throws `TrustError` TRUST_MIN_TRUST. */
export function checkCallerAllowed(input: CallerAllowedInput): void {
  if (trustAtLeast(input.callerTrust, input.backendMinTrust)) return
  const caller = input.caller ?? 'the caller'
  const backend = input.backend === undefined ? 'the backend' : `backend "${input.backend}"`
  const where = input.owner === undefined ? '' : ` on ${input.owner}`
  throw new TrustError(
    'TRUST_MIN_TRUST',
    `${caller} (trust ${input.callerTrust}) may not use ${backend}${where} (min_trust ${input.backendMinTrust})`,
  )
}
