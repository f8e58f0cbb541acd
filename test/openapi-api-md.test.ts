// docs/api.md and the services' OpenAPI documents name the same routes: every
// operation of each document appears in the prose as `METHOD /path`.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { OpenApiDocument } from '../shared/http/openapi.ts'
import { analyticsOpenApi } from '../workers/analytics/openapi.ts'
import { gatewayOpenApi } from '../workers/gateway/openapi.ts'
import { inventoryOpenApi } from '../workers/inventory/openapi.ts'
import { orderOpenApi } from '../workers/order/openapi.ts'

const API_MD = readFileSync(join(import.meta.dirname, '..', 'docs', 'api.md'), 'utf8')

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

describe('docs/api.md', () => {
  it.each([
    ['order intake', orderOpenApi()],
    ['inventory', inventoryOpenApi()],
    ['gateway', gatewayOpenApi()],
    ['analytics', analyticsOpenApi()],
  ] as [string, OpenApiDocument][])('names every route of the %s document', (_, document) => {
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    )
    // `GET /charges?orderId={id}` names `GET /charges`.
    const missing = operations.filter((op) => !new RegExp(`\`${escaped(op)}[\`?]`).test(API_MD))
    expect(missing).toStrictEqual([])
  })
})
