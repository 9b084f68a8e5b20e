/** ioredis's own slot function (CRC16 of the key or its {hash tag}, mod 16384), untyped upstream. */
declare module "cluster-key-slot" {
  function calculateSlot(key: string): number;
  export default calculateSlot;
}
