import { describe, expect, it } from '@jest/globals';
import { HostAllowList } from './host-allow-list.js';

const list = (boundHost: string, allowedHosts: string[] = [], allowedOrigins: string[] = []): HostAllowList =>
  new HostAllowList({ boundHost, allowedHosts, allowedOrigins });

describe('HostAllowList', () => {
  describe('allowsHost', () => {
    it('accepts loopback names with or without a port, in any case', () => {
      const hosts = list('127.0.0.1');
      for (const host of [
        'localhost',
        'LocalHost:8000',
        '127.0.0.1',
        '127.0.0.1:8000',
        '[::1]',
        '[::1]:8000',
      ]) {
        expect(hosts.allowsHost(host)).toBe(true);
      }
      expect(hosts.builtinHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
    });

    it('refuses other names, near misses, a missing header and garbage', () => {
      const hosts = list('127.0.0.1');
      for (const host of [
        'evil.example',
        'localhost.evil.example',
        'localhost.',
        '127.0.0.2',
        '::1',
        'a:b:c',
        '',
      ]) {
        expect(hosts.allowsHost(host)).toBe(false);
      }
      expect(hosts.allowsHost(undefined)).toBe(false);
    });

    it('accepts the bound address when it is a specific one, never a wildcard', () => {
      expect(list('10.0.0.5').allowsHost('10.0.0.5:8000')).toBe(true);
      expect(list('fd00::5').allowsHost('[fd00::5]:8000')).toBe(true);
      expect(list('fd00::5').builtinHosts).toEqual(['localhost', '127.0.0.1', '[::1]', '[fd00::5]']);
      expect(list('0.0.0.0').allowsHost('0.0.0.0:8000')).toBe(false);
      expect(list('::').allowsHost('[::]:8000')).toBe(false);
      expect(list('0.0.0.0').builtinHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
    });

    it('accepts configured names on any port, or on the one port given, and anything with *', () => {
      const hosts = list('0.0.0.0', ['crank.internal', '10.0.0.5:8000', '[fd00::1]']);
      expect(hosts.allowsHost('crank.internal')).toBe(true);
      expect(hosts.allowsHost('Crank.Internal:9000')).toBe(true);
      expect(hosts.allowsHost('10.0.0.5:8000')).toBe(true);
      expect(hosts.allowsHost('10.0.0.5:8001')).toBe(false);
      expect(hosts.allowsHost('10.0.0.5')).toBe(false);
      expect(hosts.allowsHost('[fd00::1]:8000')).toBe(true);
      expect(list('0.0.0.0', ['*']).allowsHost('anything.example:1')).toBe(true);
    });
  });

  describe('allowsOrigin', () => {
    it('accepts pages on loopback names and the bound address, on any port', () => {
      const hosts = list('10.0.0.5');
      for (const origin of [
        'http://localhost:3000',
        'https://127.0.0.1',
        'http://[::1]:8000',
        'http://10.0.0.5:8000',
      ]) {
        expect(hosts.allowsOrigin(origin, 'localhost:8000')).toBe(true);
      }
    });

    it("accepts the API's own origin, on a host that is allowed", () => {
      const hosts = list('0.0.0.0', ['crank.internal']);
      expect(hosts.allowsOrigin('http://crank.internal:8000', 'crank.internal:8000')).toBe(true);
      expect(hosts.allowsOrigin('http://crank.internal:8001', 'crank.internal:8000')).toBe(false);
    });

    it('refuses other sites, null, and other schemes', () => {
      const hosts = list('127.0.0.1');
      for (const origin of [
        'https://evil.example',
        'http://localhost.evil.example',
        'null',
        'file://',
        'chrome-extension://abc',
      ]) {
        expect(hosts.allowsOrigin(origin, 'localhost:8000')).toBe(false);
      }
    });

    it('accepts configured origins exactly, and any with *', () => {
      const hosts = list('127.0.0.1', [], ['https://ops.example.com']);
      expect(hosts.allowsOrigin('https://ops.example.com', 'localhost:8000')).toBe(true);
      expect(hosts.allowsOrigin('https://ops.example.com:443', 'localhost:8000')).toBe(true);
      expect(hosts.allowsOrigin('http://ops.example.com', 'localhost:8000')).toBe(false);
      expect(hosts.allowsOrigin('https://ops.example.com:8443', 'localhost:8000')).toBe(false);
      expect(list('127.0.0.1', [], ['*']).allowsOrigin('https://evil.example', 'localhost')).toBe(true);
    });
  });
});
