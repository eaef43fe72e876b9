/** A prebuilt agent image in a placeholder account: stacks that use it build no image. */
export const AGENT_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/tcp-agent:1.0";
