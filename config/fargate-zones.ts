/**
 * Availability zones where Fargate runs Linux tasks, where the Fargate documentation limits them.
 * "Supported Regions for Amazon ECS on AWS Fargate"
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AWS_Fargate-Regions.html), table
 * "Linux containers on AWS Fargate": "The supported Availability Zone IDs are noted when
 * applicable", e.g. "us-west-1 (`usw1-az1` & `usw1-az3` only)" and "ap-northeast-1 (`apne1-az1`,
 * `apne1-az2`, & `apne1-az4` only)". Zone IDs name the same physical zone in every account; zone
 * names (us-west-1a) are shuffled per account, so the created VPC picks its zones by ID.
 * A region not listed here runs Fargate in every zone. (The documentation's China (Beijing) row is
 * restricted too; its zone IDs are not encoded here: docs/aws-behaviours.md says so.)
 */
export const FARGATE_ZONE_IDS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  "us-west-1": ["usw1-az1", "usw1-az3"],
  "ap-northeast-1": ["apne1-az1", "apne1-az2", "apne1-az4"],
});

/** The zone IDs Fargate runs in for `region`, or undefined when it runs in every zone (or the region is a token). */
export function fargateZoneIds(region: string): readonly string[] | undefined {
  return FARGATE_ZONE_IDS[region];
}
