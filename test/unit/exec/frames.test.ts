import { describe, expect, it } from 'vitest';
import {
  decodeServerFrame,
  encodeHandshake,
  encodeHeartbeat,
  encodeResize,
  encodeStdin,
  encodeStdinClose,
  ExecFrameError,
} from '../../../src/exec/frames.ts';

/** Every byte value, twice, including sequences that are not UTF-8. */
const ALL_BYTES = Buffer.from([...Array.from({ length: 256 }, (_, i) => i), 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x00]);

describe('exec frames the gateway sends', () => {
  it('should put the token in a version 1 handshake and send an empty string without one', () => {
    expect(encodeHandshake('5f1a-secret')).toBe('{"version":1,"auth_token":"5f1a-secret"}');
    expect(encodeHandshake(undefined)).toBe('{"version":1,"auth_token":""}');
    expect(encodeHandshake('quote " and \\ backslash')).toBe(JSON.stringify({ version: 1, auth_token: 'quote " and \\ backslash' }));
  });

  it('should encode stdin as standard padded base64 that round-trips bytes that are not UTF-8', () => {
    const frame = encodeStdin(ALL_BYTES);
    const parsed: unknown = JSON.parse(frame);
    expect(parsed).toEqual({ stdin: { data: ALL_BYTES.toString('base64') } });
    expect(frame).toMatch(/^\{"stdin":\{"data":"[A-Za-z0-9+/]+={0,2}"\}\}$/);
    expect(Buffer.from(ALL_BYTES.toString('base64'), 'base64').equals(ALL_BYTES)).toBe(true);
  });

  it('should encode only the viewed bytes of a Buffer that is a slice of a larger one', () => {
    const slice = Buffer.from('xxhelloxx').subarray(2, 7);
    expect(encodeStdin(slice)).toBe('{"stdin":{"data":"aGVsbG8="}}');
  });

  it('should encode empty stdin data as an empty base64 string', () => {
    expect(encodeStdin(Buffer.alloc(0))).toBe('{"stdin":{"data":""}}');
  });

  it('should close stdin, resize and heartbeat with the frames Nomad expects', () => {
    expect(encodeStdinClose()).toBe('{"stdin":{"close":true}}');
    expect(encodeResize({ height: 40, width: 120 })).toBe('{"tty_size":{"height":40,"width":120}}');
    expect(encodeHeartbeat()).toBe('{}');
  });

  it('should refuse a terminal size that is negative, fractional or beyond int32', () => {
    expect(() => encodeResize({ height: -1, width: 80 })).toThrow(RangeError);
    expect(() => encodeResize({ height: 24, width: 80.5 })).toThrow(/width/);
    expect(() => encodeResize({ height: 2 ** 31, width: 80 })).toThrow(/height/);
    expect(() => encodeResize({ height: Number.NaN, width: 80 })).toThrow(RangeError);
  });
});

describe('exec frames Nomad sends', () => {
  it('should decode stdout and stderr data, including bytes that are not UTF-8', () => {
    const frame = decodeServerFrame(JSON.stringify({ stdout: { data: ALL_BYTES.toString('base64') } }));
    expect(frame).toEqual({ kind: 'output', stream: 'stdout', data: ALL_BYTES });
    expect(decodeServerFrame('{"stderr":{"data":"ZXJyCg=="}}')).toEqual({ kind: 'output', stream: 'stderr', data: Buffer.from('err\n') });
  });

  it('should decode empty or missing data as an empty chunk', () => {
    expect(decodeServerFrame('{"stdout":{"data":""}}')).toEqual({ kind: 'output', stream: 'stdout', data: Buffer.alloc(0) });
    expect(decodeServerFrame('{"stdout":{}}')).toEqual({ kind: 'output', stream: 'stdout', data: Buffer.alloc(0) });
  });

  it('should decode the close of each stream', () => {
    expect(decodeServerFrame('{"stdout":{"close":true}}')).toEqual({ kind: 'output-closed', stream: 'stdout' });
    expect(decodeServerFrame('{"stderr":{"close":true}}')).toEqual({ kind: 'output-closed', stream: 'stderr' });
  });

  it('should read an exit frame without exit_code as exit code 0', () => {
    expect(decodeServerFrame('{"exited":true,"result":{}}')).toEqual({ kind: 'exited', exitCode: 0, signal: null, oomKilled: false });
  });

  it('should read exit code, signal and OOM kill from the exit result', () => {
    expect(decodeServerFrame('{"exited":true,"result":{"exit_code":3}}')).toEqual({ kind: 'exited', exitCode: 3, signal: null, oomKilled: false });
    expect(decodeServerFrame('{"exited":true,"result":{"exit_code":137,"signal":9,"oom_killed":true}}')).toEqual({
      kind: 'exited',
      exitCode: 137,
      signal: 9,
      oomKilled: true,
    });
  });

  it('should ignore unknown fields at every level', () => {
    expect(decodeServerFrame('{"stdout":{"data":"aGk=","seq":4},"trace":"x"}')).toEqual({ kind: 'output', stream: 'stdout', data: Buffer.from('hi') });
    expect(decodeServerFrame('{"exited":true,"result":{"exit_code":1,"err":"boom"},"extra":[1]}')).toMatchObject({ kind: 'exited', exitCode: 1 });
  });

  it('should read a frame with none of stdout, stderr or an exit as a heartbeat', () => {
    expect(decodeServerFrame('{}')).toEqual({ kind: 'heartbeat' });
    expect(decodeServerFrame('{"exited":false}')).toEqual({ kind: 'heartbeat' });
    expect(decodeServerFrame('{"stdout":null,"unknown":1}')).toEqual({ kind: 'heartbeat' });
  });

  it('should refuse malformed JSON and JSON that is not an object', () => {
    expect(() => decodeServerFrame('{"stdout":')).toThrow(ExecFrameError);
    expect(() => decodeServerFrame('{"stdout":')).toThrow(/not JSON/);
    expect(() => decodeServerFrame('')).toThrow(/not JSON/);
    expect(() => decodeServerFrame('[]')).toThrow(/at \$: expected a JSON object, got array/);
    expect(() => decodeServerFrame('"hi"')).toThrow(/got string "hi"/);
    expect(() => decodeServerFrame('null')).toThrow(/got null/);
  });

  it('should name the field of the wrong type', () => {
    expect(() => decodeServerFrame('{"stdout":"aGk="}')).toThrow(/at \$\.stdout: expected an object/);
    expect(() => decodeServerFrame('{"stderr":{"data":42}}')).toThrow(/at \$\.stderr\.data: expected standard base64, got number 42/);
    expect(() => decodeServerFrame('{"stdout":{"close":"yes"}}')).toThrow(/at \$\.stdout\.close: expected a boolean/);
    expect(() => decodeServerFrame('{"exited":"true"}')).toThrow(/at \$\.exited: expected a boolean/);
    expect(() => decodeServerFrame('{"exited":true,"result":{"exit_code":"3"}}')).toThrow(/at \$\.result\.exit_code: expected a 32-bit integer/);
    expect(() => decodeServerFrame('{"exited":true,"result":{"exit_code":1.5}}')).toThrow(/exit_code/);
    expect(() => decodeServerFrame('{"exited":true,"result":{"exit_code":4294967296}}')).toThrow(/exit_code/);
    expect(() => decodeServerFrame('{"exited":true,"result":{"oom_killed":1}}')).toThrow(/oom_killed: expected a boolean/);
  });

  it('should refuse an exit frame without a result object', () => {
    expect(() => decodeServerFrame('{"exited":true}')).toThrow(/at \$\.result: expected an object/);
    expect(() => decodeServerFrame('{"exited":true,"result":3}')).toThrow(/\$\.result/);
  });

  it('should refuse data that is not standard padded base64', () => {
    for (const data of ['aGk', 'aG k=', 'aGk-', 'a_k=', '====', 'aGk=aGk=']) {
      expect(() => decodeServerFrame(JSON.stringify({ stdout: { data } })), data).toThrow(/standard base64/);
    }
  });

  it('should refuse a frame that carries two things at once', () => {
    expect(() => decodeServerFrame('{"stdout":{"data":"aGk="},"stderr":{"data":"aGk="}}')).toThrow(/stdout and stderr at once/);
    expect(() => decodeServerFrame('{"stdout":{"close":true},"exited":true,"result":{}}')).toThrow(/stdout and exited/);
    expect(() => decodeServerFrame('{"stdout":{"data":"aGk=","close":true}}')).toThrow(/both data and close/);
  });

  it('should decode the frames of the Nomad API notes (§9.4) as written there', () => {
    expect(decodeServerFrame('{"stdout":{"data":"aGkK"}}')).toEqual({ kind: 'output', stream: 'stdout', data: Buffer.from('hi\n') });
    expect(decodeServerFrame('{"exited":true,"result":{"exit_code":3}}')).toMatchObject({ kind: 'exited', exitCode: 3 });
  });
});
