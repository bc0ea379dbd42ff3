// The builder's errors: a Dockerfile that cannot be read, a build that failed. docker build exits 1 for both.
import { UsageError } from '../../errors.js';

/** A Dockerfile that cannot be read: docker build's exit code 1. */
export class DockerfileError extends UsageError {
  readonly exitCode = 1;
}

/** A build that failed: docker's exit code 1. */
export class BuildError extends UsageError {
  readonly exitCode = 1;
}
