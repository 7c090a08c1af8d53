import {
  Body,
  Controller,
  Delete,
  Get,
  Head,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { FilesService } from '@switchboard/datasources';
import type { Response } from 'express';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import type { GatewayRequest } from '../http/request.types';
import { sendFileContent, sendFileHeaders } from './file-download';
import { fileView } from './file.view';
import {
  fileIdSchema,
  listFilesQuerySchema,
  sharingBodySchema,
  tagsBodySchema,
} from './files.schemas';
import { receiveUpload } from './multipart-upload';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { fileListSchema, fileSchema, tagListSchema } from '../openapi/response.schemas';
import { CurrentPrincipal } from '../http/principal.decorator';
import { ZodBody, ZodInput } from '../http/zod.pipe';
import type { z } from 'zod';
import type { Principal } from '@switchboard/auth';

/**
 * The caller's documents. A file is private to its owner unless shared with
 * accounts the owner belongs to; one the caller cannot see is 404 whether or
 * not it exists. Only the owner tags, shares or deletes.
 */
@Controller('files')
@UseGuards(ScopesGuard)
@RequireScope('files')
export class FilesController {
  constructor(private readonly files: FilesService) {}

  /** multipart/form-data with one `file` field, streamed to the blob store; ingestion is queued */
  @Post()
  @ApiDoc({
    summary: 'Upload a document (multipart/form-data, one file field); ingestion is queued',
    tag: 'files',
    bodyContentType: 'multipart/form-data',
    response: fileSchema,
  })
  @HttpCode(201)
  async upload(
    @Req() req: GatewayRequest,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    const file = await receiveUpload(req, res, {
      maxBytes: this.files.maxUploadBytes,
      store: (stream, part) => this.files.upload(principal, stream, part),
      discard: (f) => this.files.delete(principal, f.id),
    });
    return fileView(file);
  }

  @Get()
  @ApiDoc({
    summary: 'The files the caller can read, newest first',
    tag: 'files',
    query: listFilesQuerySchema,
    response: fileListSchema,
  })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Query(new ZodInput(listFilesQuerySchema)) q: z.infer<typeof listFilesQuerySchema>,
  ) {
    // one more than asked tells whether there is a next page
    const rows = await this.files.list(principal, { ...q, limit: q.limit + 1 });
    const data = rows.slice(0, q.limit).map(fileView);
    return {
      data,
      limit: q.limit,
      offset: q.offset,
      nextOffset: rows.length > q.limit ? q.offset + q.limit : null,
    };
  }

  @Get(':id')
  @ApiDoc({ summary: 'One file and its ingestion status', tag: 'files', response: fileSchema })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(fileIdSchema)) { id }: z.infer<typeof fileIdSchema>,
  ) {
    return fileView(await this.files.get(principal, id));
  }

  // declared before GET: Express would otherwise answer HEAD with the GET route,
  // reading the whole blob only for Node to discard it
  /** the headers of `GET :id/content`, same status codes, no body */
  @Head(':id/content')
  @ApiDoc({ summary: 'Headers of the file content', tag: 'files' })
  async contentHeaders(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(fileIdSchema)) { id }: z.infer<typeof fileIdSchema>,
    @Res() res: Response,
  ): Promise<void> {
    const { file, body } = await this.files.openContent(principal, id);
    sendFileHeaders(res, file, body);
  }

  /** the file's bytes as an attachment, to anyone who may see the file */
  @Get(':id/content')
  @ApiDoc({
    summary: 'The file content, as an attachment',
    tag: 'files',
    responseContentType: 'application/octet-stream',
  })
  async content(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(fileIdSchema)) { id }: z.infer<typeof fileIdSchema>,
    @Res() res: Response,
  ): Promise<void> {
    const { file, body } = await this.files.openContent(principal, id);
    await sendFileContent(res, file, body);
  }

  /** removes the blob, the extracted text, chunks and vectors */
  @Delete(':id')
  @ApiDoc({ summary: 'Delete a file', tag: 'files' })
  @HttpCode(204)
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(fileIdSchema)) { id }: z.infer<typeof fileIdSchema>,
  ): Promise<void> {
    await this.files.delete(principal, id);
  }

  /** replaces the file's tags */
  @Put(':id/tags')
  @ApiDoc({
    summary: "Replace a file's tags",
    tag: 'files',
    body: tagsBodySchema,
    response: fileSchema,
  })
  async setTags(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(fileIdSchema)) { id }: z.infer<typeof fileIdSchema>,
    @Body(new ZodBody(tagsBodySchema)) { tags }: z.infer<typeof tagsBodySchema>,
  ) {
    return fileView(await this.files.setTags(principal, id, tags));
  }

  /** replaces the accounts the file is shared with (`[]` = private) */
  @Put(':id/sharing')
  @ApiDoc({
    summary: 'Share a file with accounts the owner belongs to',
    tag: 'files',
    body: sharingBodySchema,
    response: fileSchema,
  })
  async share(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(fileIdSchema)) { id }: z.infer<typeof fileIdSchema>,
    @Body(new ZodBody(sharingBodySchema)) { accountIds }: z.infer<typeof sharingBodySchema>,
  ) {
    return fileView(await this.files.share(principal, id, accountIds));
  }
}

/** Tags on the files the caller can see, with how many files carry each. */
@Controller('tags')
@UseGuards(ScopesGuard)
@RequireScope('files')
export class TagsController {
  constructor(private readonly files: FilesService) {}

  @Get()
  @ApiDoc({
    summary: 'Tags of the files the caller can read',
    tag: 'files',
    response: tagListSchema,
  })
  async list(@CurrentPrincipal() principal: Principal) {
    return { data: await this.files.listTags(principal) };
  }
}
