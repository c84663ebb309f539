import { describe, expect, it } from 'vitest';
import { unfitCallback, unfitRequest } from '../src/queue/messages.js';

const request = {
  v: 1,
  request_id: 'r-1',
  station_id: 'st-1',
  driver_token: 'DRIVER-TOKEN',
  callback_url: 'https://app.example/hooks',
  accepted_at: 1_700_000_000_000,
};
const callback = { ...request, accepted_at: undefined, status: 'allowed' };

const notRequest = { reason: 'payload is not a request message', later: false };
const notCallback = { reason: 'payload is not a callback message', later: false };

describe('queued messages', () => {
  it('accepts messages of this release, with a trace context or fields it does not know', () => {
    expect(unfitRequest(request)).toBeNull();
    expect(unfitRequest({ ...request, traceparent: '00-abc-def-01', added: true })).toBeNull();
    for (const status of ['allowed', 'not_allowed', 'unknown', 'invalid'])
      expect(unfitCallback({ ...callback, status })).toBeNull();
  });

  it.each([
    ['not an object', 'r-1'],
    ['null', null],
    ['a list', [request]],
    ['without a version', { ...request, v: undefined }],
    ['of version 0', { ...request, v: 0 }],
    ['with a version that is text', { ...request, v: '2' }],
    ['with a version that is no integer', { ...request, v: 1.5 }],
    ['without a driver token', { ...request, driver_token: undefined }],
    ['with an empty station', { ...request, station_id: '' }],
    ['with a callback URL that is no text', { ...request, callback_url: 42 }],
    ['with a time that is text', { ...request, accepted_at: '2024-01-01' }],
    ['with a trace context that is no text', { ...request, traceparent: 7 }],
  ])('refuses a request message %s, never to be handled', (_name, payload) => {
    expect(unfitRequest(JSON.parse(JSON.stringify(payload ?? null)))).toEqual(notRequest);
  });

  it('refuses a callback message with an unknown or missing decision', () => {
    expect(unfitCallback({ ...callback, status: 'maybe' })).toEqual(notCallback);
    expect(unfitCallback({ ...callback, status: undefined })).toEqual(notCallback);
    expect(unfitCallback(request)).toEqual(notCallback);
  });

  it('puts a message of a later release back for a worker of that release', () => {
    expect(unfitRequest({ ...request, v: 2, shape: 'new' })).toEqual({
      reason: 'request message version 2 is of a later release',
      later: true,
    });
    expect(unfitCallback({ v: 3 })).toEqual({
      reason: 'callback message version 3 is of a later release',
      later: true,
    });
  });
});
