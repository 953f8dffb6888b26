import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { JobTables } from '../jobs/job-database.js';
import type { WorkerRegistry } from '../registry/worker-registry.js';

/** Another controller's offer of a capability version, as the shared store last heard it. */
export interface RemoteOffer {
  controllerId: string;
  /** The gRPC address other controllers reach it at. */
  address: string;
  version: string;
}

export interface ClusterDirectoryOptions {
  db: Kysely<JobTables>;
  registry: WorkerRegistry;
  logger: Logger;
  /** How often this controller beats and republishes its offers. @default 2000 */
  beatIntervalMs?: number;
  now?: () => number;
}

/** A controller silent for this many beats is taken for dead: its offers are ignored. */
const MISSED_BEATS = 3;
/** How long a capability's remote offers are reused before the store is asked again. */
const LOOKUP_CACHE_MS = 1_000;

/**
 * Controllers sharing one PostgreSQL store see each other's workers here. Each controller beats in
 * the `controllers` table and publishes what its live workers offer in `cluster_offers` (on every
 * change, and with each beat); a controller that stops beating drops out of everyone's view after
 * three beats. The router of a controller with no local worker for a capability asks this
 * directory which other controller has one, and forwards the call there (one hop).
 */
export class ClusterDirectory {
  private timer: NodeJS.Timeout | undefined;
  private dirty = true;
  private publishing: Promise<void> | undefined;
  private readonly cache = new Map<string, { at: number; offers: RemoteOffer[] }>();
  private readonly now: () => number;
  private readonly beatIntervalMs: number;
  private stopped = false;
  private controllerId = '';
  private address = '';

  constructor(private readonly options: ClusterDirectoryOptions) {
    this.now = options.now ?? Date.now;
    this.beatIntervalMs = options.beatIntervalMs ?? 2_000;
    options.registry.addListener({
      onRegistered: () => this.changed(),
      onRemoved: () => this.changed(),
    });
  }

  /**
   * Beats and publishes at once, then every beat interval.
   * @param self - this controller's id in the cluster, and the gRPC address the others dial it at
   */
  async start(self: { controllerId: string; address: string }): Promise<void> {
    this.controllerId = self.controllerId;
    this.address = self.address;
    this.stopped = false;
    await this.publish();
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.publish().finally(() => {
          if (!this.stopped) tick();
        });
      }, this.beatIntervalMs);
      this.timer.unref();
    };
    tick();
    this.options.logger.info(
      { event: 'cluster_joined', controllerId: this.controllerId, address: this.address },
      'joined the controllers sharing this store',
    );
  }

  /** Stops beating and withdraws this controller's offers, so the others stop routing here. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.publishing;
    const { db } = this.options;
    const controllerId = this.controllerId;
    if (!controllerId) return;
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('clusterOffers').where('controllerId', '=', controllerId).execute();
      await trx.deleteFrom('controllers').where('id', '=', controllerId).execute();
    });
  }

  /** Live controllers other than this one that offer `capabilityId`, with the versions they offer. */
  async remoteOffers(capabilityId: string): Promise<RemoteOffer[]> {
    const cached = this.cache.get(capabilityId);
    const now = this.now();
    if (cached && now - cached.at < LOOKUP_CACHE_MS) return cached.offers;
    const rows = await this.options.db
      .selectFrom('clusterOffers')
      .innerJoin('controllers', 'controllers.id', 'clusterOffers.controllerId')
      .select(['clusterOffers.controllerId', 'controllers.address', 'clusterOffers.version'])
      .distinct()
      .where('clusterOffers.capability', '=', capabilityId)
      .where('clusterOffers.ready', '=', 1)
      .where('clusterOffers.controllerId', '<>', this.controllerId)
      .where('controllers.heartbeatAt', '>', now - this.beatIntervalMs * MISSED_BEATS)
      .execute();
    const offers = rows.map((row) => ({
      controllerId: row.controllerId,
      address: row.address,
      version: row.version,
    }));
    this.cache.set(capabilityId, { at: now, offers });
    if (this.cache.size > 1_000) this.cache.delete(this.cache.keys().next().value as string);
    return offers;
  }

  /** The registry changed: publish soon rather than at the next beat. */
  private changed(): void {
    this.dirty = true;
    if (this.stopped || this.publishing || !this.controllerId) return;
    setImmediate(() => void this.publish());
  }

  private publish(): Promise<void> {
    this.publishing ??= this.write().finally(() => {
      this.publishing = undefined;
    });
    return this.publishing;
  }

  private async write(): Promise<void> {
    const { db, registry, logger } = this.options;
    const { controllerId, address } = this;
    if (!controllerId) return;
    const now = this.now();
    const republish = this.dirty;
    this.dirty = false;
    try {
      await db.transaction().execute(async (trx) => {
        const beat = await trx
          .updateTable('controllers')
          .set({ address, heartbeatAt: now })
          .where('id', '=', controllerId)
          .executeTakeFirst();
        if (Number(beat.numUpdatedRows) === 0) {
          await trx
            .insertInto('controllers')
            .values({ id: controllerId, address, heartbeatAt: now })
            .execute();
        }
        if (!republish) return;
        await trx.deleteFrom('clusterOffers').where('controllerId', '=', controllerId).execute();
        const rows = registry.list().flatMap((worker) =>
          [...worker.offers.values()].map((offer) => ({
            controllerId,
            workerId: worker.id,
            capability: offer.capability.id,
            version: offer.capability.version,
            // Readiness changes with heartbeats; a not-ready offer is still worth a forward (the
            // peer queues the call until its model loads), so offers count as ready while listed.
            ready: 1,
            updatedAt: now,
          })),
        );
        if (rows.length > 0) await trx.insertInto('clusterOffers').values(rows).execute();
      });
    } catch (error) {
      this.dirty ||= republish;
      logger.warn({ event: 'cluster_publish_failed', err: error }, 'could not publish to the shared store');
    }
  }
}
