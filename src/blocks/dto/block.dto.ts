import { z } from 'zod';

const blockType = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be a lowercase slug of at most 40 characters');
const content = z.record(z.string(), z.unknown());
const blockId = z.uuid({ message: 'must be a UUID' });
const version = z.number().int().min(1).max(2_147_483_647);
const anchors = { afterId: blockId.optional(), beforeId: blockId.optional() };
const oneAnchor = (b: { afterId?: string; beforeId?: string }) => !(b.afterId && b.beforeId);
const ANCHOR_MESSAGE = { message: 'give afterId or beforeId, not both', path: ['beforeId'] };
const typeOrContent = (b: { type?: string; content?: object }) => b.type !== undefined || b.content !== undefined;
const TYPE_OR_CONTENT = { message: 'give type or content', path: ['content'] };

export const BlockIdParam = blockId;

export const CreateBlockBody = z
  .object({ id: blockId.optional(), type: blockType, content, ...anchors })
  .strict()
  .refine(oneAnchor, ANCHOR_MESSAGE)
  .meta({ id: 'CreateBlockBody' });
export type CreateBlockBody = z.infer<typeof CreateBlockBody>;

export const UpdateBlockBody = z
  .object({ version: version.optional(), type: blockType.optional(), content: content.optional() })
  .strict()
  .refine(typeOrContent, TYPE_OR_CONTENT)
  .meta({ id: 'UpdateBlockBody' });
export type UpdateBlockBody = z.infer<typeof UpdateBlockBody>;

export const UpdateBlockQuery = z.object({ merge: z.literal('fields').optional() }).strict();
export type UpdateBlockQuery = z.infer<typeof UpdateBlockQuery>;

export const MoveBlockBody = z
  .object({ version: version.optional(), ...anchors })
  .strict()
  .refine(oneAnchor, ANCHOR_MESSAGE)
  .meta({ id: 'MoveBlockBody' });
export type MoveBlockBody = z.infer<typeof MoveBlockBody>;

export const DeleteBlockQuery = z.object({ version: z.coerce.number().pipe(version).optional() }).strict();
export type DeleteBlockQuery = z.infer<typeof DeleteBlockQuery>;

const BatchOp = z.discriminatedUnion('op', [
  z
    .object({ op: z.literal('create'), id: blockId.optional(), type: blockType, content, ...anchors })
    .strict()
    .refine(oneAnchor, ANCHOR_MESSAGE),
  z
    .object({ op: z.literal('update'), id: blockId, version, type: blockType.optional(), content: content.optional() })
    .strict()
    .refine(typeOrContent, TYPE_OR_CONTENT),
  z
    .object({ op: z.literal('move'), id: blockId, version, ...anchors })
    .strict()
    .refine(oneAnchor, ANCHOR_MESSAGE),
  z.object({ op: z.literal('delete'), id: blockId, version }).strict(),
]);
export type BatchOp = z.infer<typeof BatchOp>;

export const BatchBody = z
  .object({ ops: z.array(BatchOp).min(1).max(500) })
  .strict()
  .meta({ id: 'BatchBlocksBody' });
export type BatchBody = z.infer<typeof BatchBody>;
