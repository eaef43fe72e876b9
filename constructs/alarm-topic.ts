import { Construct } from "constructs";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import type { AlarmTopicSpec } from "../config/schema";

/** Props of {@link TcpAlarmTopic}. */
export interface TcpAlarmTopicProps {
  /** An email address to subscribe to a new topic, or an existing topic's ARN. */
  readonly notify: AlarmTopicSpec;
  /** Name of the new topic (ignored with an existing topic). */
  readonly name: string;
}

/**
 * Where the apps' alarms notify: a new SNS topic with an email subscription (AWS mails a
 * confirmation link first), or an existing topic (a chat integration, a pager). CloudWatch alarms
 * of the same account may publish to a new topic under its default policy: no IAM to add.
 * The topic is not KMS-encrypted: CloudWatch cannot publish to a topic under the AWS-managed
 * key, and a customer key is a choice this stack does not make for you (pass `topicArn`).
 */
export class TcpAlarmTopic extends Construct {
  /** The topic every alarm notifies. */
  readonly topicArn: string;
  /** The topic this construct created; undefined with an existing topic. */
  readonly topic?: SnsTopic;
  /** The email subscription, when `notify` is `{ email }`; undefined otherwise. */
  readonly subscription?: SnsTopicSubscription;

  constructor(scope: Construct, id: string, props: TcpAlarmTopicProps) {
    super(scope, id);
    if ("topicArn" in props.notify) {
      this.topicArn = props.notify.topicArn;
      return;
    }
    this.topic = new SnsTopic(this, "Topic", { name: props.name, displayName: "tcp-addon alarms" });
    this.topicArn = this.topic.arn;
    this.subscription = new SnsTopicSubscription(this, "Email", { topicArn: this.topicArn, protocol: "email", endpoint: props.notify.email });
  }
}
