// Every GraphQL operation the page sends, in one place. A Rust test
// (crates/api/src/cockpit.rs) reads each `export const … = `…`` below and validates it
// against the server's schema, so keep them plain template literals: no `${…}`.

// ── who is signed in ────────────────────────────────────────────────────────────
export const ME = `query Me {
  me { person name role roleTitle scope scopeName canWrite dutyAreas }
}`;

export const REGION = `query Region($code: String!) {
  region(code: $code) { code name level parent }
}`;

export const REGIONS = `query Regions($parent: String!) {
  regions(parent: $parent) { code name level }
}`;

// ── the town, county or city cockpit ────────────────────────────────────────────
export const TOWN_DASHBOARD = `query TownDashboard($town: String!) {
  townDashboard(town: $town) {
    town
    tasks {
      task title category source status dispatchedAt deadline returns overdue duplicates
      villages { issued signed inProgress submitted accepted returned withdrawn }
    }
  }
}`;

export const SCREENING = `query Screening($scope: String!, $from: String!, $to: String!, $year: Int!) {
  screeningStatistics(scope: $scope, fromMonth: $from, toMonth: $to) {
    rejectedTotal
    rejections { month reason category rejected }
    reachedByMonth { month assignments }
  }
  taskReductionPercent(scope: $scope, baselineYear: 2023, year: $year)
}`;

export const COMPLIANT_PROCEDURES = `query CompliantProcedures($scope: String!, $from: String!, $to: String!) {
  compliantProcedures(scope: $scope, from: $from, to: $to)
}`;

export const LEADERBOARD = `query Leaderboard($board: Board!, $scope: String!, $period: String!) {
  leaderboard(board: $board, scope: $scope, period: $period, first: 10) {
    rank subject name villageName
    points { total tasks procedures listings praise }
  }
}`;

export const LEADER_INDEX = `query LeaderIndex($board: Board!, $scope: String!, $period: String!) {
  leaderboard(board: $board, scope: $scope, period: $period, measure: INDEX, first: 200) {
    subject name villageName
    index { definitionVersion value dimensions { key name weight score source } }
  }
}`;

export const EVENTS = `subscription Events($region: String!, $after: Int) {
  events(region: $region, after: $after) {
    position eventType actor recordedAt streamId regions
  }
}`;

export const TOWN_DASHBOARD_CHANGED = `subscription TownDashboardChanged($town: String!) {
  townDashboardChanged(town: $town) {
    town
    tasks {
      task title category source status dispatchedAt deadline returns overdue duplicates
      villages { issued signed inProgress submitted accepted returned withdrawn }
    }
  }
}`;

// ── the village board (on a phone) ──────────────────────────────────────────────
export const VILLAGE_BOARD = `query VillageBoard($village: String!, $minPosition: Int) {
  villageBoard(village: $village, first: 200, minPosition: $minPosition) {
    task title category matterCode score deadline dispatchedAt status assignee
    progressPercent progressNote returns lastReturnReason overdue position
  }
}`;

export const VILLAGE_BOARD_CHANGED = `subscription VillageBoardChanged($village: String!) {
  villageBoardChanged(village: $village) { task status position }
}`;

export const SIGN_ASSIGNMENT = `mutation SignAssignment($task: String!, $village: String!) {
  signAssignment(task: $task, village: $village) { position }
}`;

export const REPORT_PROGRESS = `mutation ReportProgress($task: String!, $village: String!, $percent: Int!, $note: String!) {
  reportProgress(task: $task, village: $village, percent: $percent, note: $note) { position }
}`;

export const SUBMIT_WORK = `mutation SubmitWork($task: String!, $village: String!, $summary: String!, $evidence: [EvidenceInput!]!) {
  submitWork(task: $task, village: $village, summary: $summary, evidence: $evidence) { position }
}`;

export const PROCEDURE_REGISTER = `query ProcedureRegister($village: String!) {
  procedureRegister(village: $village) {
    procedure title amountFen templateName status startedAt endedAt
    steps { stepNo name kind state recordedAt }
    returns { stepNo stepName reason returnedAt }
  }
}`;

export const OPEN_LISTINGS = `query OpenListings($village: String!) {
  openListings(village: $village) { listing project description bidDeadline stage }
}`;

export const SUBMIT_BID = `mutation SubmitBid($listing: String!, $village: String!, $statement: String!, $attachments: [EvidenceInput!]!) {
  submitBid(listing: $listing, village: $village, statement: $statement, attachments: $attachments) { position }
}`;

// ── the auditor's replay ────────────────────────────────────────────────────────
export const AUDIT_TRAIL = `query AuditTrail($region: String!, $after: String, $first: Int) {
  auditTrail(region: $region, after: $after, first: $first) {
    edges { cursor node { position streamId eventType actor recordedAt prevHash hash } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const VILLAGE_AS_OF_POSITION = `query VillageAsOfPosition($village: String!, $position: Int!) {
  villageAsOf(village: $village, position: $position) {
    village position recordedAt events tasksInLedger
    tasks { task title deadline status overdue progressPercent reworkCount pointsHundredths }
  }
}`;

export const VILLAGE_AS_OF_TIME = `query VillageAsOfTime($village: String!, $time: String!) {
  villageAsOf(village: $village, time: $time) {
    village position recordedAt events tasksInLedger
    tasks { task title deadline status overdue progressPercent reworkCount pointsHundredths }
  }
}`;

export const VERIFY_CHAIN = `query VerifyChain {
  verifyChain { intact events headPosition headHash brokenAt problem verifiedAt }
}`;

export const CADRES = `query Cadres($scope: String!) {
  cadres(scope: $scope) { person name role roleTitle }
}`;

export const ASSIGN_WORK = `mutation AssignWork($task: String!, $village: String!, $cadre: String!) {
  assignWork(task: $task, village: $village, cadre: $cadre) { position }
}`;

// The export: the same trail with each event's content.
export const AUDIT_EXPORT = `query AuditExport($region: String!, $after: String, $first: Int) {
  auditTrail(region: $region, after: $after, first: $first) {
    edges { node { position streamId eventType actor recordedAt prevHash hash payload } }
    pageInfo { hasNextPage endCursor }
  }
}`;
