/*
 * "Is every document valid under schema `a` also valid under schema `b`?",
 * for the JSON Schema that @valibot/to-json-schema writes (type, const, enum,
 * properties, required, additionalProperties, items, anyOf/oneOf, bounds,
 * pattern, format). Conservative: what it cannot prove (two different
 * patterns, any other keyword that differs) counts as a difference.
 *
 * One assumption, stated in docs/contracts.md: a writer sends only the
 * properties its schema declares, so a property that only `b` declares is no
 * difference, even when `a` allows unknown properties.
 */

export type JsonSchema = boolean | { readonly [keyword: string]: unknown }

/** Which side of the comparison is the published (old) schema, for the wording. */
export type OldSide = 'a' | 'b'

export interface Difference {
  /** `customerId`, `items[].quantity`, or `(root)`. */
  path: string
  /** What changed, in old -> new terms. */
  change: string
}

type Schema = { readonly [keyword: string]: unknown }

const asSchema = (s: unknown): Schema | undefined =>
  s === true || s === undefined ? {} : s === false ? undefined : (s as Schema)
const show = (v: unknown): string => JSON.stringify(v)
const join = (path: string, key: string): string => (path === '(root)' ? key : `${path}.${key}`)

/** The differences that make some document valid under `a` invalid under `b`. */
export function subsetDifferences(a: JsonSchema, b: JsonSchema, old: OldSide): Difference[] {
  const out: Difference[] = []
  compare(asSchema(a), asSchema(b), '(root)', old, out)
  return out
}

function compare(
  a: Schema | undefined,
  b: Schema | undefined,
  path: string,
  old: OldSide,
  out: Difference[],
) {
  if (a === undefined) return // a accepts nothing
  if (b === undefined)
    return void out.push({ path, change: old === 'a' ? 'no longer accepted' : 'newly accepted' })
  const aAlternatives = alternatives(a)
  if (aAlternatives) {
    for (const branch of aAlternatives) compare(branch, b, path, old, out)
    return
  }
  const bAlternatives = alternatives(b)
  if (bAlternatives) {
    const tries = bAlternatives.map((branch) => {
      const found: Difference[] = []
      compare(a, branch, path, old, found)
      return found
    })
    if (!tries.some((t) => t.length === 0)) out.push(...tries.reduce((x, y) => (y.length < x.length ? y : x)))
    return
  }
  const before = out.length
  compareValues(a, b, path, old, out)
  if (out.length > before) return // a changed type or value says it all
  compareUnknown(a, b, path, old, out)
  compareBounds(a, b, path, old, out)
  compareObjects(a, b, path, old, out)
  const bItems = b['items']
  if (bItems !== undefined) compare(asSchema(a['items']), asSchema(bItems), `${path}[]`, old, out)
}

/** anyOf / oneOf branches, each merged with the keywords beside them. */
function alternatives(s: Schema): Schema[] | undefined {
  const list = (s['anyOf'] ?? s['oneOf']) as JsonSchema[] | undefined
  if (!Array.isArray(list)) return undefined
  const { anyOf: _a, oneOf: _o, ...rest } = s
  return list.flatMap((branch) => {
    const schema = asSchema(branch)
    return schema === undefined ? [] : [{ ...rest, ...schema }]
  })
}

function valuesOf(s: Schema): readonly unknown[] | undefined {
  if ('const' in s) return [s['const']]
  return Array.isArray(s['enum']) ? (s['enum'] as unknown[]) : undefined
}

function typeOf(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number'
  return typeof v
}

function typesOf(s: Schema): string[] | undefined {
  const t = s['type']
  if (typeof t === 'string') return [t]
  if (Array.isArray(t)) return t as string[]
  return valuesOf(s)?.map(typeOf)
}

const typeFits = (t: string, allowed: readonly string[]) =>
  allowed.includes(t) || (t === 'integer' && allowed.includes('number'))

function compareValues(a: Schema, b: Schema, path: string, old: OldSide, out: Difference[]) {
  const bValues = valuesOf(b)
  if (bValues) {
    const aValues = valuesOf(a)
    if (!aValues) {
      out.push({ path, change: `now restricted to ${show(bValues)}` })
    } else if ('const' in b && 'const' in a && a['const'] !== b['const']) {
      const [from, to] = old === 'a' ? [a['const'], b['const']] : [b['const'], a['const']]
      out.push({ path, change: `value changed from ${show(from)} to ${show(to)}` })
    } else {
      for (const v of aValues.filter((x) => !bValues.some((y) => show(y) === show(x)))) {
        out.push({ path, change: `enum value ${show(v)} ${old === 'a' ? 'removed' : 'added'}` })
      }
    }
  }
  const bTypes = typesOf(b)
  if (bTypes && b['type'] !== undefined) {
    const aTypes = typesOf(a)
    if (!aTypes || !aTypes.every((t) => typeFits(t, bTypes))) {
      const [from, to] = old === 'a' ? [aTypes ?? 'any', bTypes] : [bTypes, aTypes ?? 'any']
      out.push({ path, change: `type changed from ${show(from)} to ${show(to)}` })
    }
  }
}

const LOWER_BOUNDS = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'] as const
const UPPER_BOUNDS = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'] as const
const EXACT = ['pattern', 'format', 'multipleOf', 'uniqueItems'] as const

function compareBounds(a: Schema, b: Schema, path: string, old: OldSide, out: Difference[]) {
  const changed = (keyword: string) => {
    const [from, to] = old === 'a' ? [a[keyword], b[keyword]] : [b[keyword], a[keyword]]
    const describe = (v: unknown) => (v === undefined ? 'none' : show(v))
    out.push({ path, change: `${keyword} changed from ${describe(from)} to ${describe(to)}` })
  }
  for (const k of LOWER_BOUNDS) {
    const bound = b[k]
    if (typeof bound === 'number' && !(typeof a[k] === 'number' && a[k] >= bound)) changed(k)
  }
  for (const k of UPPER_BOUNDS) {
    const bound = b[k]
    if (typeof bound === 'number' && !(typeof a[k] === 'number' && a[k] <= bound)) changed(k)
  }
  for (const k of EXACT) if (b[k] !== undefined && show(a[k]) !== show(b[k])) changed(k)
}

/** The keywords this comparison understands; annotations change nothing that is accepted. */
const UNDERSTOOD = new Set<string>([
  'type',
  'const',
  'enum',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'anyOf',
  'oneOf',
  ...LOWER_BOUNDS,
  ...UPPER_BOUNDS,
  ...EXACT,
  '$schema',
  '$id',
  'title',
  'description',
  'default',
  'examples',
  '$comment',
  'deprecated',
])

/** Any other keyword (`not`, `allOf`, `patternProperties`, ...) in `b` that `a` does not have alike: a difference it cannot judge. */
function compareUnknown(a: Schema, b: Schema, path: string, old: OldSide, out: Difference[]) {
  for (const k of Object.keys(b)) {
    if (UNDERSTOOD.has(k) || show(a[k]) === show(b[k])) continue
    const [from, to] = old === 'a' ? [a[k], b[k]] : [b[k], a[k]]
    const describe = (v: unknown) => (v === undefined ? 'none' : show(v))
    out.push({
      path,
      change: `${k} changed from ${describe(from)} to ${describe(to)} (not a keyword this check can judge)`,
    })
  }
}

function compareObjects(a: Schema, b: Schema, path: string, old: OldSide, out: Difference[]) {
  const aProps = (a['properties'] ?? {}) as Record<string, JsonSchema>
  const bProps = (b['properties'] ?? {}) as Record<string, JsonSchema>
  const aRequired = new Set((a['required'] ?? []) as string[])
  for (const p of (b['required'] ?? []) as string[]) {
    if (aRequired.has(p)) continue
    const declared = p in aProps
    const change =
      old === 'a'
        ? declared
          ? 'optional field became required'
          : 'new required field'
        : declared
          ? 'required field became optional'
          : 'required field removed (or renamed)'
    out.push({ path: join(path, p), change })
  }
  for (const [p, schema] of Object.entries(aProps)) {
    const field = join(path, p)
    if (p in bProps) compare(asSchema(schema), asSchema(bProps[p]), field, old, out)
    else if (b['additionalProperties'] === false) {
      out.push({
        path: field,
        change: old === 'a' ? 'field no longer accepted' : 'new field in a closed object',
      })
    } else if (typeof b['additionalProperties'] === 'object') {
      compare(asSchema(schema), asSchema(b['additionalProperties']), field, old, out)
    }
  }
  // An object open to fields it does not list (the default) against a closed one.
  if (b['additionalProperties'] === false && a['additionalProperties'] !== false)
    out.push({
      path,
      change:
        old === 'a' ? 'object closed to fields it does not list' : 'object opened to fields it does not list',
    })
}
