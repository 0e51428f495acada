-- schema.sql - the database every example reads: a product catalogue shared
-- by tenants (shops). Two tenants, 4 and 42, with 50 products each; the key
-- ("tenant:4:") is chosen so that one tenant's prefix never matches another's.
CREATE TABLE products (
    tenant      integer NOT NULL,
    id          integer NOT NULL,
    name        text    NOT NULL,
    price_cents integer NOT NULL,
    PRIMARY KEY (tenant, id)
);

INSERT INTO products (tenant, id, name, price_cents)
SELECT t, i, 'product ' || i || ' of tenant ' || t, 100 * i
FROM unnest(ARRAY[4, 42]) AS t, generate_series(1, 50) AS i;
