import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';

/**
 * A second, tiny Federation v2 subgraph for the composition tests: a registry of which team owns
 * which Nomad job. It adds `owner` to the gateway's `Job` entity (resolving a `namespace jobId`
 * reference, Nomad's own key for a job, by itself, with no call to the Nomad subgraph) and returns `Job` references from
 * `Owner.jobs`, which the router completes from the Nomad subgraph's `_entities`.
 */
export const OWNERS_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])

  type Query {
    "Every owner, in name order."
    owners: [Owner!]!
    owner(name: String!): Owner
  }

  "A team that owns Nomad jobs."
  type Owner {
    name: String!
    jobs: [Job!]!
  }

  type Job @key(fields: "namespace jobId") {
    namespace: String!
    jobId: String!
    "The team that owns this job; null when nobody claimed it."
    owner: Owner
  }
`;

export interface OwnedJob {
  namespace: string;
  jobId: string;
}

export interface OwnerRecord {
  name: string;
  jobs: OwnedJob[];
}

export interface OwnersSubgraph {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:41234/graphql */
  url: string;
  /** Representations `_entities` was asked for, oldest first. */
  references: OwnedJob[];
  stop(): Promise<void>;
}

/** Serves the owners subgraph over `owners` on port 0 (a real yoga over node:http). */
export async function startOwnersSubgraph(owners: readonly OwnerRecord[]): Promise<OwnersSubgraph> {
  const references: OwnedJob[] = [];
  const ownerOf = (job: OwnedJob): OwnerRecord | null =>
    owners.find((o) => o.jobs.some((j) => j.namespace === job.namespace && j.jobId === job.jobId)) ?? null;
  const schema = buildSubgraphSchema({
    typeDefs: parse(OWNERS_SDL),
    resolvers: {
      Query: {
        owners: () => [...owners].sort((a, b) => a.name.localeCompare(b.name)),
        owner: (_root: unknown, { name }: { name: string }) => owners.find((o) => o.name === name) ?? null,
      },
      Owner: {
        jobs: (owner: OwnerRecord) => owner.jobs,
      },
      Job: {
        __resolveReference: (reference: OwnedJob) => {
          references.push({ namespace: reference.namespace, jobId: reference.jobId });
          return { namespace: reference.namespace, jobId: reference.jobId };
        },
        owner: (job: OwnedJob) => ownerOf(job),
      },
    },
  });
  const yoga = createYoga({ schema, graphqlEndpoint: '/graphql', landingPage: false, graphiql: false, logging: false });
  const server = createServer(yoga);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    references,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
