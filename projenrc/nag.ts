import { javascript } from 'projen';

/**
 * The cdk-nag 3 check (test/nag3.test.ts) runs the compiled library under
 * cdk-nag 3 and the aws-cdk-lib it needs (2.257 or later; the project builds
 * against an older one). Both come from a nested npm project, test/nag3, with
 * its own committed lockfile, installed by test/nag3/install.js with `npm ci`
 * (skipped when already installed from the same lockfile). Not devDependencies:
 * a second aws-cdk-lib cannot sit beside the project's own.
 *
 * `npx projen nag3:install` installs it; `npx projen test` runs it first.
 */
export function addNag3Check(project: javascript.NodeProject): void {
  const install = project.addTask('nag3:install', {
    description: 'Install cdk-nag 3 and the aws-cdk-lib it needs for the cdk-nag 3 check (test/nag3, from its lockfile)',
    exec: 'node test/nag3/install.js',
  });
  project.testTask.prependSpawn(install);
  project.gitignore.exclude('/test/nag3/node_modules/');
  project.npmignore?.exclude('/test/nag3/');
}
