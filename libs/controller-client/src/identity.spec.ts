import { join, resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { controllerLocation } from './identity.js';

describe('controllerLocation', () => {
  it('defaults to the local controller and ./.crank', () => {
    expect(controllerLocation({}, {})).toEqual({
      address: '127.0.0.1:8443',
      dataDir: resolve('.crank'),
      caFile: join(resolve('.crank'), 'ca.crt'),
    });
  });

  it('reads CRANK_* variables', () => {
    expect(
      controllerLocation(
        {},
        {
          CRANK_CONTROLLER_URL: 'controller.local:9443',
          CRANK_DATA_DIR: '/srv/crank',
          CRANK_CA_FILE: '/etc/crank/ca.pem',
          CRANK_BOOTSTRAP_TOKEN: 'tok',
        },
      ),
    ).toEqual({
      address: 'controller.local:9443',
      dataDir: '/srv/crank',
      caFile: '/etc/crank/ca.pem',
      bootstrapToken: 'tok',
    });
  });

  it('puts the CA file under a data dir given by the environment', () => {
    expect(controllerLocation({}, { CRANK_DATA_DIR: '/srv/crank' }).caFile).toBe('/srv/crank/ca.crt');
  });

  it.each([
    ['https://ctl.example.org:8443', 'ctl.example.org:8443'],
    ['grpcs://10.0.0.5:8443', '10.0.0.5:8443'],
    ['dns://[::1]:8443', '[::1]:8443'],
  ])('strips the scheme from %s', (url, address) => {
    expect(controllerLocation({}, { CRANK_CONTROLLER_URL: url }).address).toBe(address);
    expect(controllerLocation({ address: url }, {}).address).toBe(address);
  });

  it('prefers explicit values over the environment', () => {
    const location = controllerLocation(
      { address: '127.0.0.1:1', dataDir: '/a', bootstrapToken: 'explicit' },
      { CRANK_CONTROLLER_URL: '127.0.0.1:2', CRANK_DATA_DIR: '/b', CRANK_BOOTSTRAP_TOKEN: 'env' },
    );
    expect(location).toEqual({
      address: '127.0.0.1:1',
      dataDir: '/a',
      caFile: '/a/ca.crt',
      bootstrapToken: 'explicit',
    });
  });

  it('leaves out an empty bootstrap token', () => {
    expect(controllerLocation({}, { CRANK_BOOTSTRAP_TOKEN: '' })).not.toHaveProperty('bootstrapToken');
  });
});
