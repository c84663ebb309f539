import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxFastify } from '../http/type-provider.js';
import { Type } from 'typebox';
import { sendProblem } from '../http/problem.js';
import { isUuid } from '../lib/ids.js';
import { fingerprintOf, type TokenHasher } from '../lib/token-hash.js';
import type { AclStore } from './acl.js';
import {
  AclEntryPatch,
  AclFile,
  AclFileEntry,
  AclLookup,
  documentProblems,
  entryProblems,
  lookupProblems,
  patchProblems,
  toEntry,
  toPatch,
} from './acl-file.js';
import { checkedWith, refusal, requireAdminToken, validateWithTypeBox } from './admin-http.js';
import {
  ACL_ADMIN_PREFIX,
  AclEntryPage,
  AclEntryView,
  DEFAULT_PAGE,
  EntryParams,
  ImportQuery,
  ImportSummary,
  PageQuery,
  problemJson,
  toSummary,
  toView,
} from './admin-schemas.js';

/**
 * The ACL admin API (bearer `ADMIN_TOKEN`) under `/admin/v1/acl`: list, read, create, change,
 * delete and bulk-import entries, and look one up by its token. Tokens come in, never go out:
 * answers show an entry's id and a short prefix of its token hash, and log lines the same.
 */

export interface AclAdminOptions {
  acl: AclStore;
  hasher: TokenHasher;
  adminToken: string;
}

/** An import carries a whole ACL file: 5 MiB holds some 40,000 entries with a station and a
 * note. Only this route takes that much; the others keep the service's 16 KiB. */
export const IMPORT_BODY_LIMIT_BYTES = 5 * 1024 * 1024;

const tags = ['acl admin'];
const security = [{ adminToken: [] }];
const unauthorized = problemJson('No or the wrong bearer ADMIN_TOKEN.');
const invalidBody = problemJson('The body failed validation; `errors` names every problem.');
const notFound = problemJson('No entry has this id.');

/** Registers the routes when the service has an admin token; without one they do not exist. */
export function registerAclAdmin(app: TypeBoxFastify, options: AclAdminOptions): void {
  void app.register(
    (admin: TypeBoxFastify, _opts, done) => {
      admin.setValidatorCompiler(validateWithTypeBox);
      // onRequest, before the body is read: an unauthenticated caller cannot make the service
      // parse a 5 MiB import.
      admin.addHook('onRequest', requireAdminToken(options.adminToken));
      registerReads(admin, options);
      registerWrites(admin, options);
      registerImport(admin, options);
      done();
    },
    { prefix: ACL_ADMIN_PREFIX },
  );
}

/** The id of the path, lower-cased; `undefined` when it cannot be an entry id. */
function entryId(params: EntryParams): string | undefined {
  const id = params.id.toLowerCase();
  return isUuid(id) ? id : undefined;
}

const noEntry = (request: FastifyRequest, reply: FastifyReply) =>
  sendProblem(reply, refusal(request, 404, 'ACL_ENTRY_NOT_FOUND'));

function registerReads(admin: TypeBoxFastify, { acl, hasher }: AclAdminOptions): void {
  admin.get(
    '/entries',
    {
      schema: {
        summary: 'List ACL entries, oldest first',
        tags,
        security,
        querystring: PageQuery,
        response: { 200: AclEntryPage, 400: invalidBody, 401: unauthorized },
      },
    },
    async (request) => {
      const { limit = DEFAULT_PAGE, after } = request.query;
      // Ids are lower-case and compared as strings: an upper-case cursor would sort before them.
      const cursor = after === undefined ? {} : { after: after.toLowerCase() };
      const page = await acl.list({ limit, ...cursor });
      return {
        items: page.items.map(toView),
        ...(page.next === undefined ? {} : { next: page.next }),
      };
    },
  );

  admin.get(
    '/entries/:id',
    {
      schema: {
        summary: 'Read one ACL entry',
        tags,
        security,
        params: EntryParams,
        response: { 200: AclEntryView, 401: unauthorized, 404: notFound },
      },
    },
    async (request, reply) => {
      const id = entryId(request.params);
      const record = id === undefined ? undefined : await acl.get(id);
      return record === undefined ? noEntry(request, reply) : toView(record);
    },
  );

  admin.post(
    '/lookup',
    {
      preValidation: checkedWith(lookupProblems),
      schema: {
        summary: "Find a driver token's entry",
        description:
          'The token travels in the body, not the URL, so that it stays out of access logs.',
        tags,
        security,
        body: AclLookup,
        response: {
          200: AclEntryView,
          400: invalidBody,
          401: unauthorized,
          404: problemJson('The ACL has no entry for this token.'),
        },
      },
    },
    async (request, reply) => {
      const record = await acl.find(hasher.hash(request.body.token));
      if (record !== undefined) return toView(record);
      const detail = 'The ACL has no entry for this token.';
      return sendProblem(reply, refusal(request, 404, 'ACL_ENTRY_NOT_FOUND', detail));
    },
  );
}

function registerWrites(admin: TypeBoxFastify, { acl, hasher }: AclAdminOptions): void {
  admin.post(
    '/entries',
    {
      preValidation: checkedWith(entryProblems),
      schema: {
        summary: 'Create an ACL entry',
        description: 'Answers 201 with the entry and its URL in Location.',
        tags,
        security,
        body: AclFileEntry,
        response: {
          201: AclEntryView,
          400: invalidBody,
          401: unauthorized,
          409: problemJson('The ACL has an entry for this token already; `detail` names its id.'),
        },
      },
    },
    async (request, reply) => {
      const result = await acl.create(toEntry(request.body, hasher));
      if (!result.created) {
        const detail = `Entry ${result.existingId} has this token; change it with PATCH, or delete it first.`;
        return sendProblem(reply, refusal(request, 409, 'ACL_ENTRY_EXISTS', detail));
      }
      const { id, tokenHash } = result.entry;
      const fingerprint = fingerprintOf(tokenHash);
      request.log.info({ acl_entry: id, token_fingerprint: fingerprint }, 'ACL entry created');
      void reply.code(201).header('location', `${ACL_ADMIN_PREFIX}/entries/${id}`);
      return toView(result.entry);
    },
  );

  admin.patch(
    '/entries/:id',
    {
      preValidation: checkedWith(patchProblems),
      schema: {
        summary: 'Change the status, expiry, stations or note of an ACL entry',
        description:
          'Absent fields are kept; null removes expires_at, stations or note. The token cannot be changed: delete the entry and create another.',
        tags,
        security,
        params: EntryParams,
        body: AclEntryPatch,
        response: { 200: AclEntryView, 400: invalidBody, 401: unauthorized, 404: notFound },
      },
    },
    async (request, reply) => {
      const id = entryId(request.params);
      const record = id === undefined ? undefined : await acl.update(id, toPatch(request.body));
      if (record === undefined) return noEntry(request, reply);
      request.log.info({ acl_entry: record.id, status: record.status }, 'ACL entry changed');
      return toView(record);
    },
  );

  admin.delete(
    '/entries/:id',
    {
      schema: {
        summary: 'Delete an ACL entry; its token becomes unknown (invalid)',
        tags,
        security,
        params: EntryParams,
        response: {
          204: Type.Null({ description: 'Deleted.' }),
          401: unauthorized,
          404: notFound,
        },
      },
    },
    async (request, reply) => {
      const id = entryId(request.params);
      if (id === undefined || !(await acl.delete(id))) return noEntry(request, reply);
      request.log.info({ acl_entry: id }, 'ACL entry deleted');
      return reply.code(204).send(null);
    },
  );
}

function registerImport(admin: TypeBoxFastify, { acl, hasher }: AclAdminOptions): void {
  admin.post(
    '/import',
    {
      bodyLimit: IMPORT_BODY_LIMIT_BYTES,
      preValidation: checkedWith(documentProblems),
      schema: {
        summary: 'Import entries in the ACL file format, in one transaction',
        description:
          'Every entry is validated first; one bad entry refuses the whole body (400 naming each bad entry) and nothing changes. An entry whose token the ACL has replaces its status, expiry, stations and note and keeps its id.',
        tags,
        security,
        querystring: ImportQuery,
        body: AclFile,
        response: {
          200: ImportSummary,
          400: invalidBody,
          401: unauthorized,
          413: problemJson('The body exceeds 5 MiB.'),
        },
      },
    },
    async (request) => {
      const mode = request.query.mode ?? 'upsert';
      const entries = request.body.entries.map((raw) => toEntry(raw, hasher));
      const summary = toSummary(mode, entries.length, await acl.importEntries(entries, { mode }));
      request.log.info(summary, 'ACL imported');
      return summary;
    },
  );
}
