output "id" {
  description = "The bucket's name."
  value       = aws_s3_bucket.bucket.id
}

output "arn" {
  description = "The bucket's ARN."
  value       = aws_s3_bucket.bucket.arn
}

output "kms_key_arn" {
  description = "The key that encrypts the bucket; readers need kms:Decrypt on it, writers kms:GenerateDataKey."
  value       = aws_kms_key.bucket.arn
}
