/**
 * The custom resource handler of ImdsReadinessReport (report.ts): the dry run
 * of enforcing IMDSv2. Its CloudFormation events (Custom::ImdsReadinessReport,
 * confirmed with CloudFormation before anything is read) and its schedule's.
 * It only reads: its role has no Modify action at all.
 */
export { reportHandler as handler } from './report';
