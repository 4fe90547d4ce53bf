/**
 * `${VAR}` interpolation of manifest strings from the environment, so keys
 * and secrets stay out of the file. `$${` writes a literal `${`.
 */

/** The outcome of interpolating one string. */
export type InterpolationResult =
  | {
      readonly ok: true
      readonly value: string
      /** Did at least one `${VAR}` get replaced? */
      readonly substituted: boolean
    }
  | { readonly ok: false; readonly problems: readonly string[] }

const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Replaces every `${VAR}` in `text` from `env`; reports every unset variable and syntax problem. */
export function interpolate(text: string, env: NodeJS.ProcessEnv): InterpolationResult {
  if (!text.includes('${')) return { ok: true, value: text, substituted: false }
  const problems: string[] = []
  let value = ''
  let substituted = false
  let index = 0
  while (index < text.length) {
    if (text.startsWith('$${', index)) {
      value += '${'
      index += 3
    } else if (text.startsWith('${', index)) {
      const end = text.indexOf('}', index + 2)
      if (end < 0) {
        problems.push('unterminated ${ (write $${ for a literal ${)')
        break
      }
      const name = text.slice(index + 2, end)
      const variable = env[name]
      if (!variableName.test(name)) {
        problems.push(`invalid environment variable name ${JSON.stringify(name)} in \${${name}}`)
      } else if (variable === undefined) {
        problems.push(`environment variable ${name} is not set`)
      } else {
        value += variable
        substituted = true
      }
      index = end + 1
    } else {
      value += text[index]
      index += 1
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value, substituted }
}

/**
 * Resolves the text of an unquoted (plain) YAML scalar the way the YAML 1.2
 * core schema would, so `port: ${PORT}` validates as a number. Quoted
 * scalars stay strings; so does an empty result.
 */
export function resolvePlainScalar(text: string): string | number | boolean | null {
  if (/^(?:~|null|Null|NULL)$/.test(text)) return null
  if (/^(?:true|True|TRUE)$/.test(text)) return true
  if (/^(?:false|False|FALSE)$/.test(text)) return false
  if (/^[-+]?[0-9]+$/.test(text)) return Number(text)
  if (/^0o[0-7]+$/.test(text)) return Number.parseInt(text.slice(2), 8)
  if (/^0x[0-9a-fA-F]+$/.test(text)) return Number.parseInt(text.slice(2), 16)
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(text)) return Number(text)
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity
  if (/^\.(?:nan|NaN|NAN)$/.test(text)) return Number.NaN
  return text
}
