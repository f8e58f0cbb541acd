import { toJsonSchema } from '@valibot/to-json-schema'
import type * as v from 'valibot'
import {
  InventoryReleasedV1,
  InventoryReservedV1,
  OrderCancelledV1,
  OrderCancelRequestedV1,
  OrderCreatedV1,
  OrderCreatedV2,
  PaymentCompletedV1,
  PaymentFailedV1,
  PaymentRefundedV1,
} from './events.ts'
import { CreateOrderRequestV1, CreateOrderRequestV2 } from './order-request.ts'
import { OrderStatusV1 } from './order-status.ts'
import { SUBJECTS } from './subjects.ts'

interface Documented {
  file: string
  title: string
  description: string
  schema: v.GenericSchema
}

const DOCUMENTED: readonly Documented[] = [
  {
    file: 'create-order-request.v1.json',
    title: 'CreateOrderRequest v1',
    description: 'POST /orders body. Skus must not repeat.',
    schema: CreateOrderRequestV1,
  },
  {
    file: 'create-order-request.v2.json',
    title: 'CreateOrderRequest v2',
    description: 'POST /orders body, version 2 (a `customer` object). Skus must not repeat.',
    schema: CreateOrderRequestV2,
  },
  {
    file: 'order-status.v1.json',
    title: 'OrderStatus v1',
    description: 'GET /orders/{orderId} body.',
    schema: OrderStatusV1,
  },
  {
    file: 'order-created.v1.json',
    title: 'OrderCreated v1',
    description: SUBJECTS.orderCreated,
    schema: OrderCreatedV1,
  },
  {
    file: 'order-created.v2.json',
    title: 'OrderCreated v2',
    description: `${SUBJECTS.orderCreated} (Event-Version: 2)`,
    schema: OrderCreatedV2,
  },
  {
    file: 'order-cancelled.v1.json',
    title: 'OrderCancelled v1',
    description: SUBJECTS.orderCancelled,
    schema: OrderCancelledV1,
  },
  {
    file: 'order-cancel-requested.v1.json',
    title: 'OrderCancelRequested v1',
    description: SUBJECTS.orderCancelRequested,
    schema: OrderCancelRequestedV1,
  },
  {
    file: 'payment-refunded.v1.json',
    title: 'PaymentRefunded v1',
    description: SUBJECTS.paymentRefunded,
    schema: PaymentRefundedV1,
  },
  {
    file: 'inventory-reserved.v1.json',
    title: 'InventoryReserved v1',
    description: SUBJECTS.inventoryReserved,
    schema: InventoryReservedV1,
  },
  {
    file: 'inventory-released.v1.json',
    title: 'InventoryReleased v1',
    description: SUBJECTS.inventoryReleased,
    schema: InventoryReleasedV1,
  },
  {
    file: 'payment-completed.v1.json',
    title: 'PaymentCompleted v1',
    description: SUBJECTS.paymentCompleted,
    schema: PaymentCompletedV1,
  },
  {
    file: 'payment-failed.v1.json',
    title: 'PaymentFailed v1',
    description: SUBJECTS.paymentFailed,
    schema: PaymentFailedV1,
  },
]

/**
 * File name -> JSON text of every published schema. Valibot `check` actions
 * (such as "no repeated sku") have no JSON Schema equivalent and are left out;
 * the description says so where it matters.
 */
export function toJsonSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>()
  for (const { file, title, description, schema } of DOCUMENTED) {
    const json = {
      title,
      description,
      ...toJsonSchema(schema, { errorMode: 'ignore', target: 'draft-2020-12' }),
    }
    files.set(file, `${JSON.stringify(json, null, 2)}\n`)
  }
  return files
}
