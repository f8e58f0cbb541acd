import { gunzipSync, gzipSync } from 'node:zlib'
import { Hono } from 'hono'
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { createContract, openApiProblems } from '../../test/support/openapi-contract.ts'
import { acceptsGzip, createApiDocsRoutes } from './api-docs.ts'
import { createOpenApiDocument, type ServiceDoc } from './openapi.ts'
import { errorResponse, RESPONSE_HEADERS } from './openapi-responses.ts'

const Thing = v.object({ id: v.pipe(v.string(), v.uuid()), size: v.pipe(v.number(), v.integer()) })
const THING_ID = '0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f'

const service: ServiceDoc = {
  title: 'Things',
  version: '1.2.3',
  description: 'A service to test the builder with.',
  securitySchemes: { apiKey: { description: 'A key.' } },
  headers: RESPONSE_HEADERS,
  operations: [
    {
      method: 'get',
      path: '/things/{id}',
      operationId: 'getThing',
      summary: 'One thing',
      tags: ['things'],
      security: { scheme: 'apiKey', roles: ['admin'] },
      parameters: [{ name: 'id', in: 'path', description: 'Its id.', schema: v.string() }],
      responses: {
        200: { description: 'The thing.', body: { schema: { name: 'Thing', schema: Thing } } },
        404: errorResponse('No such thing.', ['not_found']),
        503: errorResponse('Down.', ['unavailable'], { headers: ['Retry-After'] }),
      },
    },
    {
      method: 'get',
      path: '/things',
      operationId: 'listThings',
      summary: 'Every thing',
      tags: ['things'],
      responses: {
        200: { description: 'The things.', body: { schema: v.object({ things: v.array(Thing) }) } },
      },
    },
  ],
}

/** An app that answers what each test tells it to. */
function appAnswering(answer: (path: string) => Response) {
  const app = new Hono()
  app.get('/things/:id', (c) => answer(c.req.path))
  app.get('/things', (c) => answer(c.req.path))
  app.get('/other', (c) => c.json({}))
  return app
}

describe('createOpenApiDocument', () => {
  const document = createOpenApiDocument(service)

  it('builds a valid OpenAPI 3.1 document with named schemas referenced and only the headers used', async () => {
    expect(await openApiProblems(document)).toStrictEqual([])
    const components = document.components as { schemas: object; headers: object; securitySchemes: object }
    expect(Object.keys(components.schemas)).toStrictEqual(['Thing'])
    expect(Object.keys(components.headers)).toStrictEqual(['Retry-After'])
    expect(components.securitySchemes).toStrictEqual({
      apiKey: { type: 'http', scheme: 'bearer', description: 'A key.' },
    })
    expect(document.paths['/things']?.['get']?.['responses']).toStrictEqual({
      200: {
        description: 'The things.',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: { things: { type: 'array', items: { $ref: '#/components/schemas/Thing' } } },
              required: ['things'],
            },
          },
        },
      },
    })
    expect(document.paths['/things/{id}']?.['get']?.['security']).toStrictEqual([{ apiKey: ['admin'] }])
    expect(document.paths['/things']?.['get']?.['security']).toStrictEqual([])
  })

  it('refuses a table naming an unknown header or scheme, or a route twice', () => {
    const [first, second] = service.operations
    if (first === undefined || second === undefined) throw new Error('fixture')
    const broken = (operations: ServiceDoc['operations']) => () =>
      createOpenApiDocument({ ...service, operations })
    expect(broken([{ ...second, responses: { 200: { description: 'x', headers: ['X-Nope'] } } }])).toThrow(
      'unknown response header X-Nope',
    )
    expect(broken([{ ...first, security: { scheme: 'nope', roles: [] } }])).toThrow(
      'unknown security scheme nope',
    )
    expect(broken([second, second])).toThrow('GET /things is listed twice')
  })

  it('is what the validator refuses when it is not OpenAPI 3.1', async () => {
    expect(await openApiProblems({ ...document, info: undefined })).not.toStrictEqual([])
    expect(await openApiProblems({ ...document, openapi: '3.0.3' })).not.toStrictEqual([])
  })

  it('is served at /openapi.json; /docs only with the page files', async () => {
    const withDocs = createApiDocsRoutes({
      document: () => document,
      assets: { 'a.css': { contentType: 'text/css', body: 'p {}' } },
    })
    expect(await (await withDocs.request('/openapi.json')).json()).toStrictEqual(
      JSON.parse(JSON.stringify(document)),
    )
    const page = await withDocs.request('/docs')
    expect(page.headers.get('Content-Type')).toBe('text/html; charset=UTF-8')
    const html = await page.text()
    expect(html).toContain('<link rel="stylesheet" href="docs/swagger-ui.css" />')
    expect(html).toContain('<li><code>GET /things/{id}</code>: One thing</li>')
    expect(await (await withDocs.request('/docs/a.css')).text()).toBe('p {}')
    expect((await withDocs.request('/docs/constructor')).status).toBe(404)
    const without = createApiDocsRoutes({ document: () => document })
    expect((await without.request('/docs')).status).toBe(404)
  })
})

describe('the docs files', () => {
  const document = createOpenApiDocument(service)
  const css = 'p { color: red }'
  const gzipped = new Uint8Array(gzipSync(css))
  const get = (app: Hono, path: string, encoding?: string) =>
    app.request(path, encoding === undefined ? {} : { headers: { 'Accept-Encoding': encoding } })

  it('are sent gzipped to a client that takes gzip, gunzipped to one that does not', async () => {
    const app = createApiDocsRoutes({
      document: () => document,
      assets: { 'a.css': { contentType: 'text/css', gzip: gzipped } },
    })
    const zipped = await get(app, '/docs/a.css', 'gzip, deflate')
    expect(zipped.headers.get('Content-Encoding')).toBe('gzip')
    expect(zipped.headers.get('Vary')).toBe('Accept-Encoding')
    expect(gunzipSync(new Uint8Array(await zipped.arrayBuffer())).toString()).toBe(css)
    for (const encoding of [undefined, 'br', 'gzip;q=0', 'identity']) {
      const plain = await get(app, '/docs/a.css', encoding)
      expect(plain.headers.get('Content-Encoding')).toBeNull()
      expect(plain.headers.get('Content-Type')).toBe('text/css')
      expect(await plain.text()).toBe(css)
    }
  })

  it('are loaded on the first request for one, once, and again after a failed load', async () => {
    let calls = 0
    const app = createApiDocsRoutes({
      document: () => document,
      assets: () => {
        calls += 1
        return calls === 1
          ? Promise.reject(new Error('not yet'))
          : Promise.resolve({ 'a.css': { contentType: 'text/css', body: css } })
      },
    })
    expect(calls).toBe(0)
    expect((await get(app, '/docs')).status).toBe(200)
    expect(calls).toBe(0)
    expect((await get(app, '/docs/a.css')).status).toBe(500)
    expect(await (await get(app, '/docs/a.css')).text()).toBe(css)
    expect((await get(app, '/docs/b.css')).status).toBe(404)
    expect(calls).toBe(2)
  })

  it.each([
    ['gzip', true],
    ['GZIP;q=0.5', true],
    ['x-gzip', true],
    ['*', true],
    ['br, *;q=0.1', true],
    ['gzip;q=0, *', false],
    ['gzip; q=0.0', false],
    ['*;q=0', false],
    ['br, deflate', false],
    ['', false],
  ] as const)('Accept-Encoding %j takes gzip: %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected)
  })
})

describe('the contract check', () => {
  const contract = () => createContract(createOpenApiDocument(service))
  const thing = { id: THING_ID, size: 3 }

  it('passes a documented answer and counts what it saw', async () => {
    const check = contract()
    const app = appAnswering(() => Response.json(thing))
    await check.request(app, `/things/${THING_ID}`)
    expect(check.uncovered()).toStrictEqual([
      'GET /things/{id} 404',
      'GET /things/{id} 503',
      'GET /things 200',
    ])
  })

  it.each([
    ['an undocumented route', '/other', () => Response.json({}), 'the route is not documented'],
    [
      'an undocumented status',
      '/things/x',
      () => Response.json(thing, { status: 201 }),
      '-> 201: status not documented',
    ],
    [
      'a body off its schema',
      '/things/x',
      () => Response.json({ id: 'x', size: 3 }),
      'must match format "uuid"',
    ],
    [
      'an undocumented field',
      '/things/x',
      () => Response.json({ ...thing, extra: 1 }),
      'additional properties',
    ],
    ['a media type not documented', '/things/x', () => new Response('hi'), 'Content-Type text/plain'],
    [
      'a missing required header',
      '/things/x',
      () => Response.json({ error: 'unavailable' }, { status: 503 }),
      'Retry-After',
    ],
    [
      'an error code not listed',
      '/things/x',
      () => Response.json({ error: 'gone' }, { status: 404 }),
      'allowed values',
    ],
  ])('refuses %s', async (_, path, answer, message) => {
    await expect(contract().request(appAnswering(answer), path)).rejects.toThrow(message)
  })
})
