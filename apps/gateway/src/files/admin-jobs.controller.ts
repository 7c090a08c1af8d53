import { Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { AppError } from '@switchboard/common';
import {
  FilesService,
  INGEST_FILE_JOB,
  type IngestFilePayload,
  JobQueue,
  JobWorker,
} from '@switchboard/datasources';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { jobView } from './file.view';
import { deadJobsQuerySchema, jobIdSchema } from './files.schemas';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { jobListSchema, jobSchema } from '../openapi/response.schemas';
import { ZodInput } from '../http/zod.pipe';
import type { z } from 'zod';

/** Dead-lettered background jobs (ingestion) and putting them back in the queue. */
@Controller('admin/jobs')
@UseGuards(ScopesGuard)
@RequireScope('admin')
export class AdminJobsController {
  constructor(
    private readonly jobs: JobQueue,
    private readonly worker: JobWorker,
    private readonly files: FilesService,
  ) {}

  @Get('dead')
  @ApiDoc({
    summary: 'Dead-lettered ingestion jobs',
    tag: 'admin',
    query: deadJobsQuerySchema,
    response: jobListSchema,
  })
  async dead(
    @Query(new ZodInput(deadJobsQuerySchema)) { limit }: z.infer<typeof deadJobsQuerySchema>,
  ) {
    return { data: (await this.jobs.listDead(limit)).map(jobView) };
  }

  /** a dead job runs again with fresh attempts; its file shows `queued` again */
  @Post(':id/retry')
  @ApiDoc({ summary: 'Run a dead job again', tag: 'admin', response: jobSchema })
  @HttpCode(200)
  async retry(@Param(new ZodInput(jobIdSchema)) { id }: z.infer<typeof jobIdSchema>) {
    const job = await this.jobs.retryDead(id, async (j, tx) => {
      if (j.kind !== INGEST_FILE_JOB) return;
      const { fileId } = j.payload as IngestFilePayload;
      await this.files.setStatus(fileId, 'queued', null, tx);
    });
    if (!job) throw new AppError('not_found', 'No dead-lettered job has this id.');
    this.worker.wake();
    return jobView(job);
  }
}
