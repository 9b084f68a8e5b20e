import type { Services } from "../core/services.js";
import type { WaitingRoom } from "../domain/admission/waiting-room.js";
import type { Reconciler } from "../domain/reconcile.js";
import type { RedisGuard } from "../domain/redis-guard.js";
import type { SaleStore } from "../domain/sale-store.js";
import type { StockHomes } from "../domain/stock-home.js";
import type { ConsoleSessions } from "./console-sessions.js";
import type { DlqBrowser } from "./dlq.js";
import type { SignInLimiter } from "./sign-in-limiter.js";

export interface AdminContext {
  services: Services;
  store: SaleStore;
  reconciler: Reconciler;
  guard: RedisGuard;
  stockHomes: StockHomes;
  room: WaitingRoom;
  dlq: DlqBrowser;
  sessions: ConsoleSessions;
  signInLimiter: SignInLimiter;
}
