import { request } from 'undici';

export const STATION = '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

/** A driver-app client: plain HTTP against the public API, nothing shared with the service. */
export async function call(
  baseUrl: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: { body?: string | object; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const body = typeof options.body === 'object' ? JSON.stringify(options.body) : options.body;
  const response = await request(baseUrl + path, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

export function startBody(
  overrides: Record<string, unknown> = {},
  callbackUrl = 'http://127.0.0.1:9/cb',
) {
  return {
    station_id: STATION,
    driver_token: 'DEMO-ALLOWED-0001-abcdefgh',
    callback_url: callbackUrl,
    ...overrides,
  };
}

export async function startSession(baseUrl: string, body: object): Promise<string> {
  const answer = await call(baseUrl, 'POST', '/api/v1/charging-sessions', { body });
  if (answer.status !== 202) throw new Error(`expected 202, got ${answer.status}: ${answer.text}`);
  return answer.json()['request_id'] as string;
}

/** `operatorToken`: sent as the bearer ADMIN_TOKEN, which also shows the receivers' answers. */
export async function getSession(
  baseUrl: string,
  id: string,
  operatorToken?: string,
): Promise<Record<string, unknown>> {
  const answer = await call(baseUrl, 'GET', `/api/v1/charging-sessions/${id}`, {
    ...(operatorToken === undefined
      ? {}
      : { headers: { authorization: `Bearer ${operatorToken}` } }),
  });
  if (answer.status !== 200) throw new Error(`expected 200, got ${answer.status}: ${answer.text}`);
  return answer.json();
}
