output "build_bucket" {
  value = aws_s3_bucket.build.bucket
}
