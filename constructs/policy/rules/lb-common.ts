/** Terraform types of load balancer target groups (`aws_alb_*` is the older alias). */
export const TARGET_GROUP_TYPES = ["aws_lb_target_group", "aws_alb_target_group"] as const;
/** Terraform types of load balancer listeners. */
export const LISTENER_TYPES = ["aws_lb_listener", "aws_alb_listener"] as const;
/** Terraform types of load balancers. */
export const LOAD_BALANCER_TYPES = ["aws_lb", "aws_alb"] as const;
