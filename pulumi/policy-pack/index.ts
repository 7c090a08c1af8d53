import { PolicyPack, PolicyResource } from '@pulumi/policy';
import { invariants, ResourceRecord } from '../policy';
import { resolveUnknowns } from './resolve';

// Usage: pulumi preview --stack <dev|prod> --policy-pack pulumi/policy-pack

function toRecord(resource: PolicyResource): ResourceRecord {
  const props = resolveUnknowns(resource.props) as Record<string, unknown>;
  const provider = resource.provider
    ? (resolveUnknowns(resource.provider.props) as Record<string, unknown>)
    : undefined;
  const ownRegion = props.region;
  const providerRegion = provider?.region;
  return {
    type: resource.type,
    name: resource.name,
    urn: resource.urn,
    id: typeof props.id === 'string' ? props.id : undefined,
    region:
      typeof ownRegion === 'string'
        ? ownRegion
        : typeof providerRegion === 'string'
          ? providerRegion
          : undefined,
    props,
  };
}

new PolicyPack('switchboard', {
  policies: invariants.map((invariant) => ({
    name: invariant.name,
    description: invariant.description,
    enforcementLevel: 'mandatory',
    validateStack: (args, reportViolation) => {
      for (const v of invariant.check(args.resources.map(toRecord))) {
        reportViolation(`${v.resource}: ${v.message}`, v.urn);
      }
    },
  })),
});
