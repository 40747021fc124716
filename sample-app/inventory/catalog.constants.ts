/** A product the sample shop sells. */
export interface CatalogItem {
  name: string;
  /** Unit price in euro cents. */
  priceCents: number;
  /** Units in the warehouse when the process starts. */
  initialStock: number;
  /** Ships as freight: the parcel carrier refuses it (the order rolls back). */
  freight?: boolean;
}

/** The sample shop's products by SKU; any other SKU is out of stock. */
export const CATALOG: Readonly<Record<string, CatalogItem>> = {
  'MUG-01': { name: 'Enamel mug', priceCents: 1_250, initialStock: 1_000 },
  'TEE-02': { name: 'Logo T-shirt', priceCents: 2_400, initialStock: 500 },
  'CAP-03': { name: 'Baseball cap', priceCents: 1_900, initialStock: 250 },
  'SOFA-04': { name: 'Three-seat sofa', priceCents: 89_900, initialStock: 20, freight: true },
};
