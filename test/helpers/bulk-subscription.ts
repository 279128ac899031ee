/**
 * A subscription whose events are as large as an allocation list gets: every allocation of the
 * `default` namespace with all its task events. The slow-client tests use its first event (the
 * whole set) to put megabytes in a socket's send buffer.
 */
export const BULK_SUBSCRIPTION = /* GraphQL */ `subscription Bulk {
  allocationChanges(namespace: "default") {
    initial index removed
    added { ...Everything }
    updated { ...Everything }
  }
}
fragment Everything on Allocation {
  id allocId name namespace evalId nodeId nodeName jobId taskGroup desiredStatus desiredDescription clientStatus clientDescription modifyIndex
  taskStates {
    name state failed restarts startedAt finishedAt lastRestart
    events { type time message displayMessage details failsTask restartReason setupError driverError exitCode signal killTimeout killError killReason }
  }
}`;
