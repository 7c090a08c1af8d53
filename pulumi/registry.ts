import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface RegistryArgs {
  /** Images kept per repository; older ones expire (the deploy history keeps recent rollback targets). */
  keepImages: number;
  tags: Record<string, string>;
}

/** ECR repository for the gateway image: immutable tags (one per git sha), scanned on push. */
export class Registry extends pulumi.ComponentResource {
  readonly repositoryUrl: pulumi.Output<string>;
  readonly repositoryArn: pulumi.Output<string>;
  readonly repositoryName: pulumi.Output<string>;

  constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:registry:Registry', name, {}, opts);
    const repo = new aws.ecr.Repository(
      `${name}-ecr`,
      {
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: 'AES256' }],
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.ecr.LifecyclePolicy(
      `${name}-ecr-lifecycle`,
      {
        repository: repo.name,
        policy: JSON.stringify({
          rules: [
            {
              rulePriority: 1,
              description: 'drop untagged layers after a day',
              selection: {
                tagStatus: 'untagged',
                countType: 'sinceImagePushed',
                countUnit: 'days',
                countNumber: 1,
              },
              action: { type: 'expire' },
            },
            {
              rulePriority: 2,
              description: `keep the ${args.keepImages} most recent images`,
              selection: {
                tagStatus: 'any',
                countType: 'imageCountMoreThan',
                countNumber: args.keepImages,
              },
              action: { type: 'expire' },
            },
          ],
        }),
      },
      { parent: this },
    );
    this.repositoryUrl = repo.repositoryUrl;
    this.repositoryArn = repo.arn;
    this.repositoryName = repo.name;
    this.registerOutputs({ repositoryUrl: this.repositoryUrl });
  }
}
