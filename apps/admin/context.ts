import type { Reconciler } from "../core/reconcile.js";
import type { RedisGuard } from "../core/redis-guard.js";
import type { Reservations } from "../core/reservations.js";
import type { Services } from "../core/services.js";

export interface AdminContext {
  services: Services;
  reservations: Reservations;
  reconciler: Reconciler;
  guard: RedisGuard;
}
