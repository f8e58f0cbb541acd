import { describe, expect, it } from 'vitest'
import { chargeFingerprint, refundFingerprint } from './request-fingerprint.ts'

// Fingerprints are kept in the gateway's journal: these were computed by the
// WebCrypto implementation this one replaced, so a journal written before still matches.
describe('request fingerprints', () => {
  it('are the SHA-256 hex of the fields in a fixed order, as before', async () => {
    const order = '01890a5d-ac96-774b-bcce-b302099a8057'
    expect(
      await chargeFingerprint({ amountCents: 4999, currency: 'EUR', token: 'tok_ok', orderId: order }),
    ).toBe('86bb90504ecaec897d541bdd0cd502e97a5ebff88a02944d02f593e8ae3ce164')
    expect(
      await chargeFingerprint({ amountCents: 100, currency: 'EUR', token: 'tök_ünï', orderId: 'o' }),
    ).toBe('84f7d8e060383dfd51ffe640cef154b6b1e841e139857cb8a646bd4dd5ebe09e')
    expect(await refundFingerprint({ chargeId: 'ch_1', amountCents: 500 })).toBe(
      '28a9b0f52afdc1d4f4e056c297554dac09dbaf390a6625ce7345f955636ee1bc',
    )
  })

  it('tell an omitted refund amount from one written out', async () => {
    expect(await refundFingerprint({ chargeId: 'ch_1' })).toBe(
      '6b09a8a1f2e207701177a88dd66e7cb097ee400b68a0b2f89fe287caf9752839',
    )
    expect(await refundFingerprint({ chargeId: 'ch_1', amountCents: undefined })).toBe(
      await refundFingerprint({ chargeId: 'ch_1' }),
    )
  })
})
