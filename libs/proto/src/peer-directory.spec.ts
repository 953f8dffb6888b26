import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from '@jest/globals';
import { PeerDirectory, publicKeyFingerprint } from './peer-directory.js';

/** A socket as far as the directory looks at it: address, port, certificate, 'close'. */
function socket(port: number, subject: Record<string, string> | undefined): TLSSocket & EventEmitter {
  return Object.assign(new EventEmitter(), {
    remoteAddress: '127.0.0.1',
    remotePort: port,
    getPeerCertificate: () => (subject ? { subject, pubkey: Buffer.from(`key-of-${port}`) } : {}),
  }) as unknown as TLSSocket & EventEmitter;
}

const call = (port: number): { getPeer(): string } => ({ getPeer: () => `127.0.0.1:${port}` });

describe('PeerDirectory', () => {
  it('answers the identity of the connection a call came on, until that connection closes', () => {
    const peers = new PeerDirectory();
    const worker = socket(5001, { CN: 'echo-1', OU: 'worker' });
    peers.add(worker);
    peers.add(socket(5002, { CN: 'crank-controller', OU: 'controller' }));
    expect(peers.lookup(call(5001))).toEqual({
      id: 'echo-1',
      kind: 'worker',
      keyFingerprint: publicKeyFingerprint(Buffer.from('key-of-5001')),
    });
    expect(peers.lookup(call(5002))).toMatchObject({ id: 'crank-controller', kind: 'controller' });
    worker.emit('close');
    expect(peers.lookup(call(5001))).toBeUndefined();
    expect(peers.size).toBe(1);
  });

  it('records nothing for a connection without a certificate or with an unknown role', () => {
    const peers = new PeerDirectory();
    peers.add(socket(5003, undefined));
    peers.add(socket(5004, { CN: 'someone', OU: 'admin' }));
    expect(peers.lookup(call(5003))).toBeUndefined();
    expect(peers.lookup(call(5004))).toBeUndefined();
    expect(peers.size).toBe(0);
  });

  it('keeps a newer connection on the same address when the older one closes late', () => {
    const peers = new PeerDirectory();
    const old = socket(5005, { CN: 'caller-a', OU: 'caller' });
    peers.add(old);
    peers.add(socket(5005, { CN: 'caller-b', OU: 'caller' }));
    old.emit('close');
    expect(peers.lookup(call(5005))).toMatchObject({ id: 'caller-b', kind: 'caller' });
  });
});
