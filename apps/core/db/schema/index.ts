export * from "./order-events.js";
export * from "./orders.js";
export * from "./payments.js";
export * from "./sales.js";
