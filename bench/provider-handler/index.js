// The handler users write for the cr.Provider variant of the benchmark (bench/run.ts):
// apply the settings on Create and Update, reset them on Delete. It is not part of the
// library; it stands for the usual hand-written version (no read-back, no rollback).
const { EC2Client, ModifyInstanceMetadataDefaultsCommand } = require('@aws-sdk/client-ec2');

const ec2 = new EC2Client({});

exports.handler = async (event) => {
  const props = event.ResourceProperties;
  if (event.RequestType === 'Delete') {
    await ec2.send(new ModifyInstanceMetadataDefaultsCommand({
      HttpTokens: 'no-preference',
      HttpTokensEnforced: 'no-preference',
      HttpPutResponseHopLimit: -1,
    }));
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  await ec2.send(new ModifyInstanceMetadataDefaultsCommand({
    HttpTokens: props.HttpTokens,
    HttpTokensEnforced: props.HttpTokensEnforced,
    HttpPutResponseHopLimit: Number(props.HttpPutResponseHopLimit),
  }));
  return { PhysicalResourceId: 'imds-account-defaults' };
};
