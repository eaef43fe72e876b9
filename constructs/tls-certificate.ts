import { Construct } from "constructs";
import { AcmCertificate } from "@cdktf/provider-aws/lib/acm-certificate";
import { AcmCertificateValidation } from "@cdktf/provider-aws/lib/acm-certificate-validation";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";

/** Props of {@link TcpTlsCertificate}. */
export interface TcpTlsCertificateProps {
  /** The name the certificate is for (a wildcard `*.example.com` is allowed). */
  readonly domain: string;
  /** The Route 53 hosted zone that holds `domain`: the validation record goes there. */
  readonly hostedZoneId: string;
  /** Tags of the certificate. */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * A public ACM certificate for one name, validated by DNS in a Route 53 zone: the certificate,
 * its CNAME validation record, and the validation that waits until ACM has issued it. A
 * listener that uses `certificateArn` is created only once the certificate is valid.
 * ACM renews a DNS-validated certificate on its own while the record stays in place.
 */
export class TcpTlsCertificate extends Construct {
  /** The requested certificate. */
  readonly certificate: AcmCertificate;
  /** The CNAME that proves to ACM that the zone is ours. */
  readonly validationRecord: Route53Record;
  /** Completes when ACM has issued the certificate. */
  readonly validation: AcmCertificateValidation;
  /** The issued certificate's ARN, for a listener (depends on the validation). */
  readonly certificateArn: string;

  constructor(scope: Construct, id: string, props: TcpTlsCertificateProps) {
    super(scope, id);
    this.certificate = new AcmCertificate(this, "Certificate", {
      domainName: props.domain,
      validationMethod: "DNS",
      // A changed name makes a new certificate before the listener lets go of the old one.
      lifecycle: { createBeforeDestroy: true },
      tags: props.tags,
    });
    // One name, so exactly one validation option; `allowOverwrite` lets a second certificate for
    // the same name (another app, or a replacement) share the identical CNAME.
    const option = this.certificate.domainValidationOptions.get(0);
    this.validationRecord = new Route53Record(this, "ValidationRecord", {
      zoneId: props.hostedZoneId,
      name: option.resourceRecordName,
      type: option.resourceRecordType,
      records: [option.resourceRecordValue],
      ttl: 60,
      allowOverwrite: true,
    });
    this.validation = new AcmCertificateValidation(this, "Validation", {
      certificateArn: this.certificate.arn,
      validationRecordFqdns: [this.validationRecord.fqdn],
    });
    this.certificateArn = this.validation.certificateArn;
  }
}
