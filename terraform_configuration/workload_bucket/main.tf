# What the workload's CI user applies with its own credentials: one bucket.
# Its own policy allows s3:*; the Organization's SCP on the account does not.

resource "aws_s3_bucket" "build" {
  bucket        = "${var.name_prefix}-build"
  force_destroy = true
}
