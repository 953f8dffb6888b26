import { describe, expect, it } from '@jest/globals';
import { routeAccess } from './route-access.js';

describe('routeAccess', () => {
  it.each([
    ['GET', '/health', 'open'],
    ['GET', '/ui', 'open'],
    ['GET', '/ui/*', 'open'],
    ['GET', '/ui/vendor/*', 'open'],
    ['POST', '/ui/*', 'admin'],
    ['GET', '/v1/workers/:id', 'authenticated'],
    ['POST', '/v1/workers/:id/drain', 'admin'],
    ['GET', '/v1/metrics/events', 'authenticated'],
    ['HEAD', '/version', 'open'],
    ['POST', '/health', 'admin'],
    ['POST', '/v1/invoke/:capability', 'invoke'],
    ['GET', '/v1/stream/:capability', 'invoke'],
    ['GET', '/v1/jobs', 'jobs'],
    ['POST', '/v1/jobs', 'jobs'],
    ['DELETE', '/v1/jobs/:id', 'jobs'],
    ['GET', '/v1/capabilities', 'authenticated'],
    ['GET', '/v1/workers', 'authenticated'],
    ['GET', '/metrics', 'authenticated'],
    ['GET', '/docs/*', 'authenticated'],
    ['GET', '/v1/jobsearch', 'authenticated'],
    ['POST', '/v1/workers/:id/drain', 'admin'],
    ['GET', undefined, 'authenticated'],
    ['POST', undefined, 'authenticated'],
  ] as const)('%s %s needs %s', (method, route, access) => {
    expect(routeAccess(method, route)).toBe(access);
  });
});
