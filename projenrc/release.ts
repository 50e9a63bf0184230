import { awscdk } from 'projen';

/** Runs the step only when CI is unset (projen's own idiom, as in its `package` task). */
const NOT_IN_CI = 'node -e "if (process.env.CI) process.exit(1)"';

/**
 * Releases: the version, the changelog, every language's package, the compatibility check.
 *
 * projen's `release: true` (in .projenrc.ts, with `majorVersion: 0` and
 * `nextVersionCommand`) gives the `release` task: `bump` (the version from the last
 * `v*` tag and projenrc/release-version.js), `build`, `unbump`, and a check that the
 * checkout is unchanged; and the workflow .github/workflows/release.yml, which runs it on
 * GitHub, tags the release and publishes to npm, PyPI, Maven Central, NuGet and the Go
 * module repository. Here we add:
 *
 * - `release:notes` after `bump`: git-cliff writes this release's notes (dist/changelog.md,
 *   the GitHub release's text) and the whole changelog (dist/CHANGELOG.md) from the commits
 *   (projenrc/release-changelog.js, projenrc/release-cliff.toml);
 * - `package:languages` after `build`, outside CI: a release run by hand leaves every
 *   language's package in dist/ with the release's version (dist/js, dist/python,
 *   dist/java, dist/go, dist/codegen/dotnet). On GitHub (CI set) each publishing job
 *   builds its own language instead, as projen's workflow does;
 * - `changelog`: CHANGELOG.md regenerated from the commits (run by hand, then committed);
 * - `compat`: projenrc/release-compat.js instead of projen's `jsii-diff npm:<name>`: it
 *   compares with the release the latest `v*` tag names, says "no release yet" while
 *   there is none, fails when the release cannot be fetched, and treats breaking changes to
 *   experimental APIs (all of ours, 0.x) as errors.
 */
export function addReleaseTasks(project: awscdk.AwsCdkConstructLibrary): void {
  // git-cliff 2.13.1: every platform binary of that release is on the registry this project
  // installs from (2.14.2's are not all there, and `npm ci` would reject the lockfile).
  project.addDevDeps('git-cliff@2.13.1');

  const compat = project.tasks.tryFind('compat');
  if (!compat) {
    throw new Error('addReleaseTasks: no compat task: set `compat: true` in .projenrc.ts');
  }
  compat.reset('node projenrc/release-compat.js');
  compat.description = 'API compatibility with the latest release (the newest v* tag, from npm): jsii-diff, breaking changes are errors unless .compatignore lists them; passes with "no release yet" before the first release';

  project.addTask('changelog', {
    description: 'Regenerate CHANGELOG.md from the commits (git-cliff, projenrc/release-cliff.toml); commit the result',
    exec: 'node projenrc/release-changelog.js',
  });

  const notes = project.addTask('release:notes', {
    description: 'After bump: this release\'s notes (dist/changelog.md) and the whole changelog (dist/CHANGELOG.md) from the commits, with git-cliff',
    exec: 'node projenrc/release-changelog.js --release',
  });

  const releaseTask = project.tasks.tryFind('release');
  const packageLanguages = project.tasks.tryFind('package:languages');
  if (!releaseTask || !packageLanguages) {
    throw new Error('addReleaseTasks: needs the release task (release: true) and package:languages (addConsumerTasks first)');
  }
  const bumpIndex = releaseTask.steps.findIndex((step) => step.spawn === 'bump');
  const buildIndex = releaseTask.steps.findIndex((step) => step.spawn === project.buildTask.name);
  if (bumpIndex < 0 || buildIndex < bumpIndex) {
    throw new Error(`addReleaseTasks: the release task's steps are not bump ... build: ${JSON.stringify(releaseTask.steps)}`);
  }
  // Insert after build first, so that bumpIndex stays valid.
  releaseTask.insertStep(buildIndex + 1, { spawn: packageLanguages.name, condition: NOT_IN_CI });
  releaseTask.insertStep(bumpIndex + 1, { spawn: notes.name });
}
